"""Hugging Face transformers' schedulers (transformers 5.23.0): ``get_scheduler`` and its
names (``schedules``) and the exact oracle (``oracle``). Its schedulers are torch ``LambdaLR``s,
so its adapters are ``jaxsched.pytorch``'s."""

from jaxsched.transformers.schedules import SCHEDULER_TYPES, get_scheduler

__all__ = ["SCHEDULER_TYPES", "get_scheduler"]
