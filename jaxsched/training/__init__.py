"""The old import path of ``jaxsched.loop.training`` (``scheduled``, ``per_epoch``): kept so
``from jaxsched.training import scheduled`` goes on working."""

from jaxsched.loop.training import *  # noqa: F403
from jaxsched.loop.training import __all__ as __all__
