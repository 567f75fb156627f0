"""Hugging Face transformers' schedulers (transformers 5.23.0): ``get_scheduler`` and its
names (``schedules``) and the exact oracle (``oracle``). Its schedulers are torch ``LambdaLR``s,
so its adapters are ``jaxsched.pytorch``'s, but for the metric-driven ``GreedyLR``
(``greedy``: ``GreedyLR`` / ``greedy_lr``); ``from_training_args`` builds the schedule
``Trainer`` builds from ``TrainingArguments``."""

from jaxsched.transformers.greedy import GreedyLR, greedy_lr
from jaxsched.transformers.schedules import SCHEDULER_TYPES, get_scheduler
from jaxsched.transformers.trainer import from_training_args, training_steps, warmup_steps

__all__ = ["GreedyLR", "SCHEDULER_TYPES", "from_training_args", "get_scheduler", "greedy_lr",
           "training_steps", "warmup_steps"]
