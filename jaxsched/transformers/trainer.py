"""The schedule Hugging Face's ``Trainer.create_scheduler`` builds from ``TrainingArguments``
(transformers 5.23.0), without importing transformers: ``from_training_args``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from jaxsched.core import checks as check
from jaxsched.transformers.schedules import get_scheduler

__all__ = ["from_training_args", "training_steps", "warmup_steps"]

FIELDS = ("lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps", "max_steps",
          "num_train_epochs", "gradient_accumulation_steps", "learning_rate",
          "per_device_train_batch_size", "dataloader_drop_last")
DEFAULTS = dict(lr_scheduler_type="linear", lr_scheduler_kwargs=None, warmup_steps=0,
                max_steps=-1, num_train_epochs=3.0, gradient_accumulation_steps=1,
                learning_rate=5e-5, per_device_train_batch_size=8, dataloader_drop_last=False)


def _read(fn: str, args: Any) -> dict[str, Any]:
    """The fields ``create_scheduler`` reads, from a ``TrainingArguments`` (any object with
    those attributes) or a mapping of them; missing ones take ``TrainingArguments``'
    defaults."""
    if isinstance(args, Mapping):
        unknown = sorted(set(args) - set(FIELDS))
        if unknown:
            raise TypeError(f"{fn}: unknown training argument {unknown[0]!r}"
                            f"{check.did_you_mean(unknown[0], FIELDS)}; valid: "
                            f"{', '.join(FIELDS)}")
        return dict(DEFAULTS, **args)
    if isinstance(args, (str, bytes, numbers.Number)) or not hasattr(args, "learning_rate"):
        raise TypeError(f"{fn}: args must be a transformers TrainingArguments (or a mapping "
                        f"of its fields), got {args!r}")
    return {k: getattr(args, k, DEFAULTS[k]) for k in FIELDS}


def training_steps(args: Any, *, steps_per_epoch: int | None = None,
                   num_examples: int | None = None) -> int:
    """``Trainer``'s ``max_steps``: ``args.max_steps`` when positive, else
    ``ceil(num_train_epochs * max(ceil(steps_per_epoch / gradient_accumulation_steps),
    1))``, ``steps_per_epoch`` being ``len(train_dataloader)`` (or, from ``num_examples``,
    the batches of ``per_device_train_batch_size`` in one process: ``ceil``, or ``floor``
    with ``dataloader_drop_last``).

    Example:
        >>> from jaxsched.transformers import training_steps
        >>> training_steps(dict(num_train_epochs=2.5, gradient_accumulation_steps=3,
        ...                     per_device_train_batch_size=4), num_examples=103)
        23
    """
    fn = "jaxsched.transformers.training_steps"
    return _training_steps(fn, _read(fn, args), steps_per_epoch, num_examples)


def _training_steps(fn: str, a: dict[str, Any], steps_per_epoch: Any, num_examples: Any
                    ) -> int:
    max_steps = check.integer(fn, "max_steps", a["max_steps"], minimum=-check.MAX_COUNT,
                              maximum=check.MAX_EXACT)
    accumulation = check.integer(fn, "gradient_accumulation_steps",
                                 a["gradient_accumulation_steps"], minimum=1)
    if steps_per_epoch is None and num_examples is not None:
        batch = check.integer(fn, "per_device_train_batch_size",
                              a["per_device_train_batch_size"], minimum=1)
        n = check.integer(fn, "num_examples", num_examples, minimum=0, maximum=check.MAX_EXACT)
        drop = check.boolean(fn, "dataloader_drop_last", bool(a["dataloader_drop_last"]))
        steps_per_epoch = n // batch if drop else -(-n // batch)
    if steps_per_epoch is None:
        if max_steps > 0:
            return max_steps
        raise ValueError(f"{fn}: max_steps={max_steps} counts epochs, so steps_per_epoch "
                         f"(len(train_dataloader)) or num_examples is needed (Trainer raises "
                         f"without a dataloader length too)")
    batches = check.phase(fn, "steps_per_epoch", steps_per_epoch, minimum=0)
    if max_steps > 0:
        return max_steps
    per_epoch = max(batches // accumulation + int(batches % accumulation > 0), 1)
    epochs = check.nonneg(fn, "num_train_epochs", a["num_train_epochs"])
    return check.phase(fn, "max_steps (from num_train_epochs)",
                       math.ceil(epochs * per_epoch), minimum=0)


def warmup_steps(args: Any, num_training_steps: int) -> int:
    """``TrainingArguments.get_warmup_steps``: ``int(warmup_steps)`` from 1 up, else the
    ratio form ``ceil(num_training_steps * warmup_steps)``.

    Example:
        >>> from jaxsched.transformers import warmup_steps
        >>> warmup_steps(dict(warmup_steps=0.1), 23), warmup_steps(dict(warmup_steps=7.9), 23)
        (3, 7)
    """
    fn = "jaxsched.transformers.warmup_steps"
    return _warmup_steps(fn, _read(fn, args), num_training_steps)


def _warmup_steps(fn: str, a: dict[str, Any], num_training_steps: int) -> int:
    w = check.nonneg(fn, "warmup_steps", a["warmup_steps"])
    t = check.phase(fn, "num_training_steps", num_training_steps, minimum=0)
    return int(w) if w >= 1 else math.ceil(t * w)


def from_training_args(args: Any, optimizer: Any = None, *, steps_per_epoch: int | None = None,
                       num_examples: int | None = None) -> Any:
    """The scheduler ``Trainer.create_scheduler`` builds: ``get_scheduler(
    args.lr_scheduler_type, optimizer, num_warmup_steps=args.get_warmup_steps(T),
    num_training_steps=T, scheduler_specific_kwargs=args.lr_scheduler_kwargs)`` with ``T``
    the Trainer's ``max_steps`` (``training_steps``). One step is one optimizer update
    (``gradient_accumulation_steps`` micro-batches).

    Args:
        args: a ``transformers.TrainingArguments`` (or a mapping of its fields:
            ``lr_scheduler_type``, ``lr_scheduler_kwargs``, ``warmup_steps``, ``max_steps``,
            ``num_train_epochs``, ``gradient_accumulation_steps``, ``learning_rate``,
            ``per_device_train_batch_size``, ``dataloader_drop_last``).
        optimizer: ``None`` for the pure schedule at ``args.learning_rate`` (the Trainer's
            optimizer lr), or what ``get_scheduler`` takes for an adapter.
        steps_per_epoch: ``len(trainer.get_train_dataloader())``, needed when
            ``max_steps`` is not set.
        num_examples: instead of ``steps_per_epoch``, the training set's size (one process).

    Returns:
        What ``jaxsched.get_scheduler`` returns for the type.

    Raises:
        TypeError, ValueError: on arguments Trainer refuses, or without a way to count the
            steps.

    Example:
        >>> from jaxsched.transformers import from_training_args
        >>> s = from_training_args(dict(lr_scheduler_type="cosine", learning_rate=1e-3,
        ...                             warmup_steps=0.1, num_train_epochs=2,
        ...                             per_device_train_batch_size=4), num_examples=100)
        >>> s.params["num_warmup_steps"], s.params["num_training_steps"]
        (5, 50)

    Matches ``transformers.Trainer.create_scheduler`` of transformers 5.23.0.
    """
    fn = "jaxsched.transformers.from_training_args"
    a = _read(fn, args)
    t = _training_steps(fn, a, steps_per_epoch, num_examples)
    name = getattr(a["lr_scheduler_type"], "value", a["lr_scheduler_type"])
    kwargs = a["lr_scheduler_kwargs"]
    if isinstance(kwargs, str):
        import json

        try:
            kwargs = json.loads(kwargs)
        except ValueError as err:
            raise ValueError(f"{fn}: lr_scheduler_kwargs is not a JSON dict: {err}") from None
    if optimizer is None:
        optimizer = check.real(fn, "learning_rate", a["learning_rate"])
    return get_scheduler(name, optimizer, num_warmup_steps=_warmup_steps(fn, a, t),
                         num_training_steps=t, scheduler_specific_kwargs=kwargs or None)
