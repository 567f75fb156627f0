"""The old import path of ``jaxsched.pytorch.interop`` (``from_torch``): kept so
``from jaxsched.interop import from_torch`` goes on working."""

from jaxsched.pytorch.interop import *  # noqa: F403
from jaxsched.pytorch.interop import __all__ as __all__
