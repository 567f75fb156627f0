"""Megatron-core's ``OptimizerParamScheduler`` (megatron-core 0.16.1): the lr and weight-decay
formulas as pure schedules of ``num_steps`` (``schedules``), the Megatron-named adapter with
its stepping, per-group values and state dict (``adapters``), the import from Megatron-LM's
training arguments (``config``), and the exact oracle (``oracle``)."""

from jaxsched.megatron.adapters import OptimizerParamScheduler
from jaxsched.megatron.config import from_args, scheduler_kwargs
from jaxsched.megatron.schedules import lr_schedule, wd_schedule

__all__ = ["OptimizerParamScheduler", "from_args", "lr_schedule", "scheduler_kwargs",
           "wd_schedule"]
