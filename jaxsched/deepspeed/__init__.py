"""``deepspeed.runtime.lr_schedules`` (DeepSpeed 0.19.8): pure schedules (``schedules``),
DeepSpeed-named adapters (``adapters``), ``ds_config`` import (``config``) and the exact
oracle (``oracle``)."""

from jaxsched.deepspeed.adapters import (
    LRRangeTest,
    OneCycle,
    WarmupCosineLR,
    WarmupDecayLR,
    WarmupLR,
)
from jaxsched.deepspeed.config import from_deepspeed_config
from jaxsched.deepspeed.schedules import (
    lr_range_test,
    one_cycle,
    warmup_cosine_lr,
    warmup_decay_lr,
    warmup_lr,
)

__all__ = [
    "LRRangeTest", "OneCycle", "WarmupCosineLR", "WarmupDecayLR", "WarmupLR",
    "from_deepspeed_config", "lr_range_test", "one_cycle", "warmup_cosine_lr",
    "warmup_decay_lr", "warmup_lr",
]
