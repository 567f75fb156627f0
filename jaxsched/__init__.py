"""jaxsched: torch and DeepSpeed learning-rate schedulers as exact, jit-safe optax schedules."""

from jaxsched.adapter import Adapter
from jaxsched.deepspeed import (
    lr_range_test,
    one_cycle,
    warmup_cosine_lr,
    warmup_decay_lr,
    warmup_lr,
)
from jaxsched.deepspeed_adapters import (
    LRRangeTest,
    OneCycle,
    WarmupCosineLR,
    WarmupDecayLR,
    WarmupLR,
)
from jaxsched.schedule import Schedule, per_group

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "LRRangeTest",
    "OneCycle",
    "Schedule",
    "WarmupCosineLR",
    "WarmupDecayLR",
    "WarmupLR",
    "lr_range_test",
    "one_cycle",
    "per_group",
    "warmup_cosine_lr",
    "warmup_decay_lr",
    "warmup_lr",
]
