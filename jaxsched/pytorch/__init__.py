"""``torch.optim.lr_scheduler`` (torch 2.13.0): pure schedules (``schedules``, ``cyclic``,
``composite``), torch-named adapters (``adapters``, ``cyclic_adapters``,
``composite_adapters``) and the exact oracle (``oracle``). ``ReduceLROnPlateau`` lives in
``jaxsched.core.plateau``, which timm and transformers share."""

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

__all__ = [
    "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
    "CyclicLR", "ExponentialLR", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR",
    "OneCycleLR", "PolynomialLR", "SequentialLR", "StepLR", "TorchAdapter",
    "chained_scheduler", "constant_lr", "cosine_annealing_lr", "cosine_annealing_warm_restarts",
    "cyclic_lr", "exponential_lr", "lambda_lr", "linear_lr", "multi_step_lr",
    "multiplicative_lr", "one_cycle_lr", "polynomial_lr", "sequential_lr", "step_lr",
]
