"""Keras 3's learning-rate schedules (``keras.optimizers.schedules``, Keras 3.15.1) under
their Keras names (``schedules``: each a ``jaxsched.Schedule`` with ``get_config`` /
``from_config``), import from ``get_config()`` and ``serialize`` output (``config``), and
the exact oracle (``oracle``)."""

from jaxsched.keras.config import deserialize, from_config
from jaxsched.keras.schedules import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    KerasSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)

__all__ = [
    "CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
    "KerasSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "deserialize",
    "from_config",
]
