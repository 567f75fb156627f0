"""Keras 3's learning-rate schedules (``keras.optimizers.schedules``, Keras 3.15.1) under
their Keras names (``schedules``: each a ``jaxsched.Schedule`` with ``get_config`` /
``from_config``), import from ``get_config()`` and ``serialize`` output (``config``), and
the exact oracle (``oracle``), and any jaxsched schedule as a Keras ``LearningRateSchedule``
for ``model.fit`` (``as_keras_schedule``, ``bridge``; Keras is imported only there)."""

from jaxsched.keras.bridge import as_keras_schedule, register_with_keras
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
    "KerasSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "as_keras_schedule",
    "deserialize", "from_config", "register_with_keras",
]
