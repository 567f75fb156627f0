"""Megatron-LM's training arguments (``--lr``, ``--lr-decay-iters``, ``--lr-warmup-fraction``,
``--train-samples``, ...) to an ``OptimizerParamScheduler``, as Megatron-LM's
``get_optimizer_param_scheduler(optimizer)`` builds it (``megatron/training/training.py``)
after ``validate_args`` (``megatron/training/arguments.py``).

Those two files are Megatron-LM's training code, which the megatron-core 0.16.1 wheel does
not ship; this module follows the Megatron-LM release that wheel belongs to (core_r0.16).
Megatron steps its scheduler by the global batch size every iteration, so the scheduler
counts samples in both modes:

- iteration-based (``train_iters``): ``lr_decay_steps = (lr_decay_iters or train_iters) *
  global_batch_size``, ``wd_incr_steps = train_iters * global_batch_size``, warmup
  ``lr_warmup_fraction * lr_decay_steps`` or ``lr_warmup_iters * global_batch_size``, WSD
  decay ``lr_wsd_decay_iters * global_batch_size``;
- sample-based (``train_samples``): ``lr_decay_samples or train_samples``,
  ``train_samples``, ``lr_warmup_fraction * lr_decay_steps`` or ``lr_warmup_samples``,
  ``lr_wsd_decay_samples``.

A fractional warmup (``lr_warmup_fraction * lr_decay_steps`` not integral) is kept as the
float Megatron computes (``jaxsched.megatron.lr_schedule`` takes it). ``weight_decay_incr_style
='constant'`` sets ``start_wd = end_wd = weight_decay``, as ``validate_args`` does (and
arguments that went through ``validate_args``, with both already set equal, are taken).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxsched.core import checks as check
from jaxsched.megatron.adapters import OptimizerParamScheduler

__all__ = ["DEFAULTS", "from_args", "scheduler_kwargs"]

WIDE = check.MAX_EXACT  # counts in samples reach billions (a 4e9-sample run): to 2**53-1

# Megatron-LM's argparse defaults for the arguments the scheduler reads
DEFAULTS: dict[str, Any] = dict(
    lr=None, min_lr=0.0, lr_decay_style="linear", lr_wsd_decay_style="exponential",
    lr_decay_iters=None, lr_decay_samples=None, lr_wsd_decay_iters=None,
    lr_wsd_decay_samples=None, lr_warmup_fraction=None, lr_warmup_iters=0,
    lr_warmup_samples=0, lr_warmup_init=0.0, weight_decay=0.01, start_weight_decay=None,
    end_weight_decay=None, weight_decay_incr_style="constant", train_iters=None,
    train_samples=None, global_batch_size=None, micro_batch_size=None,
    data_parallel_size=None, rampup_batch_size=None, override_opt_param_scheduler=False,
    use_checkpoint_opt_param_scheduler=False)


def _read(fn: str, args: Any) -> dict[str, Any]:
    """The scheduler's arguments from a Namespace or a mapping, with Megatron's defaults;
    Megatron's dashed flag names (``lr-decay-iters``) are accepted in a mapping too."""
    if isinstance(args, Mapping):
        given = {str(k).lstrip("-").replace("-", "_"): v for k, v in args.items()}
    elif hasattr(args, "__dict__"):
        given = dict(vars(args))
    else:
        raise TypeError(f"{fn}: args must be an argparse.Namespace or a mapping of Megatron-LM "
                        f"argument names, got {args!r}")
    return {k: given.get(k, d) for k, d in DEFAULTS.items()}


def _refuse(fn: str, ok: bool, text: str) -> None:
    if not ok:
        raise ValueError(f"{fn}: {text} (Megatron-LM's validate_args asserts)")


def scheduler_kwargs(args: Any) -> dict[str, Any]:
    """``OptimizerParamScheduler``'s keyword arguments from Megatron-LM's training arguments.

    Formula: see the module docstring (iteration- or sample-based counts, all in samples).

    Args:
        args: an ``argparse.Namespace`` from Megatron-LM's parser, or a mapping of its
            argument names (``lr_decay_iters`` or ``--lr-decay-iters``); absent names take
            Megatron-LM's defaults.

    Returns:
        The keywords of ``jaxsched.megatron.OptimizerParamScheduler`` (and of Megatron's).

    Raises:
        ValueError / TypeError: where Megatron-LM's ``validate_args`` asserts (iteration-
            and sample-based options mixed, a warmup given twice, a weight-decay range
            with ``constant``), where it would fail later (no ``lr``, neither
            ``train_iters`` nor ``train_samples``), or for a bad value.

    Example:
        >>> from jaxsched import megatron
        >>> kw = megatron.scheduler_kwargs(dict(lr=3e-4, min_lr=3e-5, train_iters=1000,
        ...                                     global_batch_size=256, lr_warmup_fraction=0.01,
        ...                                     lr_decay_style="cosine"))
        >>> kw["lr_warmup_steps"], kw["lr_decay_steps"], kw["wd_incr_steps"]
        (2560.0, 256000, 256000)

    Matches Megatron-LM core_r0.16's ``get_optimizer_param_scheduler`` and
    ``validate_args``.
    """
    fn = "jaxsched.megatron.scheduler_kwargs"
    a = _read(fn, args)
    if a["lr"] is None:
        raise ValueError(f"{fn}: args has no lr (Megatron-LM's --lr)")
    iters, samples = a["train_iters"], a["train_samples"]
    if iters:
        _refuse(fn, samples is None, "expected iteration-based training: train_iters and "
                f"train_samples={samples!r} are both set")
        _refuse(fn, a["lr_decay_samples"] is None, "expected iteration-based learning rate "
                f"decay, got lr_decay_samples={a['lr_decay_samples']!r}")
        _refuse(fn, a["lr_warmup_samples"] == 0, "expected iteration-based learning rate "
                f"warmup, got lr_warmup_samples={a['lr_warmup_samples']!r}")
        _refuse(fn, a["rampup_batch_size"] is None, "expected no batch-size rampup for "
                f"iteration-based training, got rampup_batch_size={a['rampup_batch_size']!r}")
        if a["lr_warmup_fraction"] is not None:
            _refuse(fn, a["lr_warmup_iters"] == 0, "can only specify one of "
                    "lr_warmup_fraction and lr_warmup_iters")
        gbs = a["global_batch_size"]
        if gbs is None and a["micro_batch_size"] is not None and a["data_parallel_size"]:
            gbs = a["micro_batch_size"] * a["data_parallel_size"]  # Megatron's default
        gbs = check.integer(fn, "global_batch_size", gbs, minimum=1)
        iters = check.integer(fn, "train_iters", iters, minimum=1, maximum=WIDE)
        decay_iters = iters if a["lr_decay_iters"] is None else check.integer(
            fn, "lr_decay_iters", a["lr_decay_iters"], minimum=1, maximum=WIDE)
        decay, wd_steps = decay_iters * gbs, iters * gbs
        wsd = None if a["lr_wsd_decay_iters"] is None else check.integer(
            fn, "lr_wsd_decay_iters", a["lr_wsd_decay_iters"], minimum=1,
            maximum=WIDE) * gbs
        warm_count = check.integer(fn, "lr_warmup_iters", a["lr_warmup_iters"], minimum=0,
                                   maximum=WIDE)
        warm_count *= gbs
    elif samples:
        _refuse(fn, a["lr_decay_iters"] is None, "expected sample-based learning rate decay, "
                f"got lr_decay_iters={a['lr_decay_iters']!r}")
        _refuse(fn, a["lr_warmup_iters"] == 0, "expected sample-based learning rate warmup, "
                f"got lr_warmup_iters={a['lr_warmup_iters']!r}")
        if a["lr_warmup_fraction"] is not None:
            _refuse(fn, a["lr_warmup_samples"] == 0, "can only specify one of "
                    "lr_warmup_fraction and lr_warmup_samples")
        samples = check.integer(fn, "train_samples", samples, minimum=1, maximum=WIDE)
        decay = samples if a["lr_decay_samples"] is None else check.integer(
            fn, "lr_decay_samples", a["lr_decay_samples"], minimum=1, maximum=WIDE)
        wd_steps = samples
        wsd = None if a["lr_wsd_decay_samples"] is None else check.integer(
            fn, "lr_wsd_decay_samples", a["lr_wsd_decay_samples"], minimum=1, maximum=WIDE)
        warm_count = check.integer(fn, "lr_warmup_samples", a["lr_warmup_samples"], minimum=0,
                                   maximum=WIDE)
    else:
        raise ValueError(f"{fn}: either train_iters or train_samples must be a positive "
                         f"number (Megatron-LM raises), got {iters!r} and {samples!r}")
    if a["lr_warmup_fraction"] is not None:
        fraction = check.nonneg(fn, "lr_warmup_fraction", a["lr_warmup_fraction"])
        warm: float | int = fraction * decay  # Megatron's float product
    else:
        warm = warm_count
    style = a["weight_decay_incr_style"]
    if style == "constant":
        start, end = a["start_weight_decay"], a["end_weight_decay"]
        # raw arguments have neither; validate_args then sets both to weight_decay, and the
        # scheduler reads them: that state (start == end) is taken too
        _refuse(fn, (start is None and end is None) or (start is not None and start == end),
                "weight_decay_incr_style='constant' takes weight_decay, or "
                "start_weight_decay == end_weight_decay as validate_args sets them, got "
                f"start_weight_decay={start!r}, end_weight_decay={end!r}")
        if start is None:
            start = end = a["weight_decay"]
    else:
        _refuse(fn, a["start_weight_decay"] is not None and a["end_weight_decay"] is not None,
                f"weight_decay_incr_style={style!r} needs start_weight_decay and "
                "end_weight_decay")
        start, end = a["start_weight_decay"], a["end_weight_decay"]
    return dict(init_lr=a["lr_warmup_init"], max_lr=a["lr"], min_lr=a["min_lr"],
                lr_warmup_steps=warm, lr_decay_steps=decay, lr_decay_style=a["lr_decay_style"],
                start_wd=start, end_wd=end, wd_incr_steps=wd_steps, wd_incr_style=style,
                use_checkpoint_opt_param_scheduler=a["use_checkpoint_opt_param_scheduler"],
                override_opt_param_scheduler=a["override_opt_param_scheduler"],
                wsd_decay_steps=wsd, lr_wsd_decay_style=a["lr_wsd_decay_style"])


def from_args(args: Any, optimizer: Any = None) -> OptimizerParamScheduler:
    """The ``OptimizerParamScheduler`` Megatron-LM builds from its training arguments
    (``scheduler_kwargs``), over ``optimizer``'s param groups (one group by default).
    Step it with ``step(global_batch_size)`` per iteration, as Megatron does.

    Example:
        >>> from jaxsched import megatron
        >>> s = megatron.from_args(dict(lr=1e-3, train_samples=10_000,
        ...                             lr_warmup_samples=1_000, lr_decay_style="cosine"))
        >>> s.step(1_000)
        >>> s.get_last_lr()
        [0.001]
    """
    kw = scheduler_kwargs(args)
    if optimizer is None:
        optimizer = [{"lr": kw["max_lr"], "weight_decay": kw["start_wd"]}]
    return OptimizerParamScheduler(optimizer, **kw)
