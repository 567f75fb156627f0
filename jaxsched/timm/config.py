"""timm's ``create_scheduler_v2`` / ``create_scheduler`` (timm 1.0.31) and
``scheduler_kwargs``: a timm training configuration becomes a jaxsched scheduler in one
call, with timm's own unit conversions (epochs to updates, fractional decay phases)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jaxsched.core import checks as check
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.loop.training import per_epoch
from jaxsched.timm import adapters
from jaxsched.timm.plateau import PlateauLRScheduler

__all__ = ["create_scheduler", "create_scheduler_v2", "scheduler_kwargs", "timm_schedule"]

SCHEDS = ("cosine", "tanh", "step", "multistep", "poly", "wsd", "rsqrt", "constant",
          "plateau", "none")


def scheduler_kwargs(cfg: Any, decreasing_metric: bool | None = None) -> dict[str, Any]:
    """timm's ``scheduler_kwargs``: a train.py ``argparse.Namespace`` (or a mapping with
    the same names) to ``create_scheduler_v2``'s keywords, with timm's defaults."""
    get = (lambda k, d: cfg.get(k, d)) if isinstance(cfg, Mapping) else (
        lambda k, d: getattr(cfg, k, d))
    eval_metric = get("eval_metric", "top1")
    if decreasing_metric is not None:
        mode = "min" if decreasing_metric else "max"
    else:
        mode = "min" if "loss" in eval_metric else "max"
    if get("sched", None) is None:
        raise ValueError("jaxsched.timm.scheduler_kwargs: cfg has no 'sched'")
    return dict(
        sched=get("sched", None), num_epochs=get("epochs", 100),
        decay_epochs=get("decay_epochs", 30), decay_milestones=get("decay_milestones", [30, 60]),
        warmup_epochs=get("warmup_epochs", 5), cooldown_epochs=get("cooldown_epochs", 0),
        patience_epochs=get("patience_epochs", 10), decay_rate=get("decay_rate", 0.1),
        min_lr=get("min_lr", 0.0), warmup_lr=get("warmup_lr", 1e-5),
        warmup_prefix=get("warmup_prefix", False), noise=get("lr_noise", None),
        noise_pct=get("lr_noise_pct", 0.67), noise_std=get("lr_noise_std", 1.0),
        noise_seed=get("seed", 42), cycle_mul=get("lr_cycle_mul", 1.0),
        cycle_decay=get("lr_cycle_decay", 0.1), cycle_limit=get("lr_cycle_limit", 1),
        k_decay=get("lr_k_decay", 1.0), decay_fn=get("lr_decay_fn", None),
        stable_timescale=get("lr_stable_timescale", None), plateau_mode=mode,
        step_on_epochs=not get("sched_on_updates", False))


def _plan(fn: str, sched: str, num_epochs: Any, decay_epochs: Any,
          decay_milestones: Sequence[Any], cooldown_epochs: Any, warmup_epochs: Any,
          warmup_prefix: Any, step_on_epochs: Any, updates_per_epoch: Any, noise: Any,
          stable_timescale: Any, decay_fn: Any, **rest: Any
          ) -> tuple[type | None, dict[str, Any], int]:
    """timm's create_scheduler_v2 arithmetic: the adapter class, its keywords, and the
    extra cooldown (in the schedule's unit)."""
    check.choice(fn, "sched", sched, SCHEDS)
    step_on_epochs = check.boolean(fn, "step_on_epochs", step_on_epochs)
    warmup_prefix = check.boolean(fn, "warmup_prefix", warmup_prefix)
    if decay_epochs is None:
        decay_epochs = 0.2 if sched in ("wsd", "rsqrt") else 90
    t_initial, warmup_t, decay_t = num_epochs, warmup_epochs, decay_epochs
    cooldown_t, timescale_t = cooldown_epochs, stable_timescale
    milestones = list(decay_milestones)
    if not step_on_epochs:
        n = check.integer(fn, "updates_per_epoch", updates_per_epoch, minimum=1)
        t_initial, warmup_t, decay_t = t_initial * n, warmup_t * n, decay_t * n
        milestones = [d * n for d in milestones]
        cooldown_t = cooldown_t * n
        timescale_t = None if timescale_t is None else timescale_t * n
    noise_range = None
    if noise is not None:  # fractions of t_initial; a one-element list is a start
        if isinstance(noise, (list, tuple)):
            noise_range = [n * t_initial for n in noise]
            noise_range = noise_range[0] if len(noise_range) == 1 else noise_range
        else:
            noise_range = noise * t_initial
    warm = dict(warmup_lr_init=rest["warmup_lr"], warmup_t=warmup_t)
    noise_kw = dict(noise_range_t=noise_range, noise_pct=rest["noise_pct"],
                    noise_std=rest["noise_std"], noise_seed=rest["noise_seed"])
    cycle = dict(cycle_mul=rest["cycle_mul"], cycle_decay=rest["cycle_decay"],
                 cycle_limit=rest["cycle_limit"])
    lr_min = rest["min_lr"]
    if sched == "none":
        return None, {}, 0
    if sched == "plateau":
        if not step_on_epochs:
            raise ValueError(f"{fn}: sched='plateau' steps per epoch only (timm asserts "
                             f"'Plateau LR only supports step per epoch.'), got "
                             f"step_on_epochs=False")
        return PlateauLRScheduler, dict(
            decay_rate=rest["decay_rate"], patience_t=rest["patience_epochs"], cooldown_t=0,
            **warm, lr_min=lr_min, mode=rest["plateau_mode"], **noise_kw), 0
    if sched in ("cosine", "tanh", "poly"):
        cls = {"cosine": adapters.CosineLRScheduler, "tanh": adapters.TanhLRScheduler,
               "poly": adapters.PolyLRScheduler}[sched]
        kw = dict(t_initial=t_initial, lr_min=lr_min, **cycle, **warm,
                  warmup_prefix=warmup_prefix, **noise_kw)
        if sched != "tanh":
            kw["k_decay"] = rest["k_decay"]
        if sched == "poly":
            kw["power"] = rest["decay_rate"]  # timm overloads decay_rate as the power
        return cls, kw, cooldown_t
    if sched in ("step", "constant"):
        kw = dict(decay_t=decay_t if sched == "step" else 1,
                  decay_rate=rest["decay_rate"] if sched == "step" else 1.0,
                  **warm, warmup_prefix=warmup_prefix, **noise_kw)
        return adapters.StepLRScheduler, kw, cooldown_t
    if sched == "multistep":
        return adapters.MultiStepLRScheduler, dict(
            decay_t=milestones, decay_rate=rest["decay_rate"], **warm,
            warmup_prefix=warmup_prefix, **noise_kw), cooldown_t
    t_sched = t_initial if warmup_prefix else t_initial - warmup_t  # wsd / rsqrt
    if 0 < decay_epochs < 1:
        decay_t = decay_epochs * t_sched
    decay_t = round(decay_t)
    if not 0 < decay_t <= t_sched:
        raise ValueError(f"{fn}: {sched} needs 0 < decay_epochs <= epochs"
                         f"{'' if warmup_prefix else ' - warmup_epochs'} (timm raises), got "
                         f"decay {decay_t} and stable + decay length {t_sched}")
    return adapters.WSDLRScheduler, dict(
        t_initial=t_sched, decay_t=decay_t, lr_min=lr_min,
        stable_fn="rsqrt" if sched == "rsqrt" else "constant", stable_timescale=timescale_t,
        decay_fn=decay_fn or ("linear" if sched == "rsqrt" else "1-sqrt"), **warm,
        **noise_kw), cooldown_t


def _defaults(num_epochs: int = 300, decay_epochs: float | None = None,
              decay_milestones: Sequence[int] = (90, 180, 270), cooldown_epochs: int = 0,
              patience_epochs: int = 10, decay_rate: float = 0.1, min_lr: float = 0.0,
              warmup_lr: float = 1e-5, warmup_epochs: int = 0, warmup_prefix: bool = False,
              noise: Any = None, noise_pct: float = 0.67, noise_std: float = 1.0,
              noise_seed: int = 42, cycle_mul: float = 1.0, cycle_decay: float = 0.1,
              cycle_limit: int = 1, k_decay: float = 1.0, decay_fn: str | None = None,
              stable_timescale: float | None = None, plateau_mode: str = "max",
              step_on_epochs: bool = True, updates_per_epoch: int = 0) -> dict[str, Any]:
    return dict(locals())


def create_scheduler_v2(optimizer: Any, sched: str = "cosine", **kwargs: Any
                        ) -> tuple[adapters.TimmAdapter | PlateauLRScheduler | None, int]:
    """timm's ``create_scheduler_v2``: ``(scheduler, num_epochs)`` with ``num_epochs`` the
    epochs to train (warmup prefix, all cycles and cooldown included), as timm returns.

    Args:
        optimizer: an lr, param groups (``lr_scale`` honoured), an optax
            ``inject_hyperparams`` state or a torch optimizer.
        sched: one of timm's names: cosine, tanh, step, multistep, poly, wsd, rsqrt,
            constant, plateau (timm's deprecated, metric-driven ``PlateauLRScheduler``), none.
        **kwargs: create_scheduler_v2's keywords with its defaults (num_epochs=300, ...).

    Returns:
        A jaxsched timm adapter (``None`` for ``'none'``) and the epoch count.

    Raises:
        ValueError / TypeError: for unknown keywords or values (timm's own checks included).

    Example:
        >>> from jaxsched import timm
        >>> sched, epochs = timm.create_scheduler_v2(0.1, "cosine", num_epochs=10,
        ...                                          warmup_epochs=2, warmup_prefix=True)
        >>> epochs, round(sched.get_last_lr()[0], 6)
        (12, 1e-05)
    """
    fn = "jaxsched.timm.create_scheduler_v2"
    options = _defaults()
    check.known_keywords(fn, kwargs, options, "argument")
    options.update(kwargs)
    cls, kw, cooldown_t = _plan(fn, sched, **options)
    if cls is None:
        return None, options["num_epochs"]
    if cls is PlateauLRScheduler:
        scheduler = cls(optimizer, **kw)
    else:
        scheduler = cls(optimizer, t_in_epochs=options["step_on_epochs"], **kw)
    if isinstance(scheduler, (adapters.StepLRScheduler, adapters.MultiStepLRScheduler,
                              PlateauLRScheduler)):
        # timm: no get_cycle_length, so num_epochs plus a prefixed warmup (no cooldown)
        return scheduler, options["num_epochs"] + (
            options["warmup_epochs"] if options["warmup_prefix"] else 0)
    t = _cycle_length(scheduler) + cooldown_t
    if options["step_on_epochs"]:
        return scheduler, t
    return scheduler, t // options["updates_per_epoch"]


def _cycle_length(s: adapters.TimmAdapter) -> int:
    """timm's ``get_cycle_length()``: the length of all cycles (warmup prefix included)."""
    return s.get_cycle_length()


def create_scheduler(args: Any, optimizer: Any, updates_per_epoch: int = 0
                     ) -> tuple[adapters.TimmAdapter | None, int]:
    """timm's ``create_scheduler(args, optimizer, updates_per_epoch)``: train.py's
    arguments (a Namespace or mapping) through ``scheduler_kwargs``."""
    kw = scheduler_kwargs(args)
    sched = kw.pop("sched")
    return create_scheduler_v2(optimizer, sched, **kw, updates_per_epoch=updates_per_epoch)


@schedule_factory
def timm_schedule(lr: float, sched: str = "cosine", **kwargs: Any) -> Schedule:
    """The pure schedule of ``create_scheduler_v2(lr, sched, **kwargs)`` as a function of
    the optimizer update: with ``step_on_epochs`` (timm's default) the epoch schedule held
    for ``updates_per_epoch`` updates each (``jaxsched.per_epoch``), else the update
    schedule; count 0 is the lr timm sets when built.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.timm_schedule(0.1, "step", decay_epochs=2, decay_rate=0.5,
        ...                        updates_per_epoch=3)
        >>> [round(float(s(k)), 3) for k in (0, 5, 6, 11, 12)]
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    fn = "jaxsched.timm.timm_schedule"
    if sched == "plateau":
        raise ValueError(f"{fn}: sched='plateau' follows a metric, it is no function of the "
                         f"count: use jaxsched.timm.PlateauLRScheduler, or the in-graph "
                         f"jaxsched.reduce_lr_on_plateau")
    scheduler, _ = create_scheduler_v2(lr, sched, **kwargs)
    if scheduler is None:
        raise ValueError(f"{fn}: sched='none' has no schedule (the lr stays {lr!r})")
    f = scheduler._full
    s = type(scheduler)._factory(**f, lr=scheduler.base_values[0],
                                 lr_scale=scheduler._scales[0])
    if scheduler.t_in_epochs:
        n = check.integer(fn, "updates_per_epoch", kwargs.get("updates_per_epoch", 0),
                          minimum=1)
        return per_epoch(s, n)
    return s
