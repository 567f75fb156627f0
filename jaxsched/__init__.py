"""jaxsched: torch, DeepSpeed and Hugging Face learning-rate schedules as exact, jit-safe optax
schedules."""

from jaxsched import keras as keras  # the subpackage: Keras-named schedules
from jaxsched import megatron as megatron  # the subpackage: Megatron's scheduler
from jaxsched import presets as presets  # the submodule, jaxsched.presets
from jaxsched import timm as timm  # the subpackage: timm-named schedules and adapters
from jaxsched._version import __version__ as __version__
from jaxsched.core.adapter import Adapter
from jaxsched.core.plateau import ReduceLROnPlateau, reduce_lr_on_plateau
from jaxsched.core.schedule import Schedule, per_group
from jaxsched.core.wide import WideCount
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
from jaxsched.loop import (
    GridResult,
    Groups,
    Rule,
    coupled_from_decoupled,
    decoupled_from_coupled,
    decoupled_weight_decay,
    epoch_clock,
    grid_search,
    grouped,
    hyperparams,
    layerwise,
    param_groups,
    path_name,
    rampup_table,
    rules_from_megatron,
    rules_from_torch,
    samples_clock,
)
from jaxsched.loop.training import per_epoch, scheduled
from jaxsched.lr_finder import LRFinderResult, find_lr
from jaxsched.pytorch.adapters import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
    TorchAdapter,
)
from jaxsched.pytorch.composite import chained_scheduler, sequential_lr
from jaxsched.pytorch.composite_adapters import ChainedScheduler, SequentialLR
from jaxsched.pytorch.cyclic import cosine_annealing_warm_restarts, cyclic_lr, one_cycle_lr
from jaxsched.pytorch.cyclic_adapters import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from jaxsched.pytorch.interop import from_torch
from jaxsched.pytorch.schedules import (
    constant_lr,
    cosine_annealing_lr,
    exponential_lr,
    lambda_lr,
    linear_lr,
    multi_step_lr,
    multiplicative_lr,
    polynomial_lr,
    step_lr,
)
from jaxsched.transformers.schedules import get_scheduler

__all__ = [
    "Adapter",
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "GridResult",
    "Groups",
    "LRFinderResult",
    "LRRangeTest",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycle",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "Rule",
    "Schedule",
    "SequentialLR",
    "StepLR",
    "TorchAdapter",
    "WarmupCosineLR",
    "WarmupDecayLR",
    "WarmupLR",
    "WideCount",
    "chained_scheduler",
    "constant_lr",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts",
    "coupled_from_decoupled",
    "cyclic_lr",
    "decoupled_from_coupled",
    "decoupled_weight_decay",
    "epoch_clock",
    "exponential_lr",
    "find_lr",
    "from_deepspeed_config",
    "from_torch",
    "get_scheduler",
    "grid_search",
    "grouped",
    "hyperparams",
    "lambda_lr",
    "layerwise",
    "linear_lr",
    "lr_range_test",
    "multi_step_lr",
    "multiplicative_lr",
    "one_cycle",
    "one_cycle_lr",
    "param_groups",
    "path_name",
    "per_epoch",
    "per_group",
    "polynomial_lr",
    "rampup_table",
    "reduce_lr_on_plateau",
    "rules_from_megatron",
    "rules_from_torch",
    "samples_clock",
    "scheduled",
    "sequential_lr",
    "step_lr",
    "warmup_cosine_lr",
    "warmup_decay_lr",
    "warmup_lr",
]
