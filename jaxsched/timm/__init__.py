"""timm's schedulers (``timm.scheduler``, timm 1.0.31): pure schedules (``schedules`` and
``wsd``; the shared warmup and cycle arithmetic in ``phases``, the lr noise in ``noise``),
timm-named adapters (``adapters``; the metric-driven ``plateau``), ``create_scheduler_v2``
import (``config``) and the exact oracle (``oracle``)."""

from jaxsched.timm.adapters import (
    CosineLRScheduler,
    MultiStepLRScheduler,
    PolyLRScheduler,
    StepLRScheduler,
    TanhLRScheduler,
    TimmAdapter,
    WSDLRScheduler,
)
from jaxsched.timm.config import (
    create_scheduler,
    create_scheduler_v2,
    scheduler_kwargs,
    timm_schedule,
)
from jaxsched.timm.plateau import PlateauLRScheduler
from jaxsched.timm.schedules import (
    cosine_lr,
    multistep_lr,
    poly_lr,
    step_lr,
    tanh_lr,
)
from jaxsched.timm.wsd import wsd_lr

__all__ = [
    "CosineLRScheduler", "MultiStepLRScheduler", "PlateauLRScheduler", "PolyLRScheduler",
    "StepLRScheduler", "TanhLRScheduler", "TimmAdapter", "WSDLRScheduler", "cosine_lr",
    "create_scheduler", "create_scheduler_v2", "multistep_lr", "poly_lr", "scheduler_kwargs",
    "step_lr", "tanh_lr", "timm_schedule", "wsd_lr",
]
