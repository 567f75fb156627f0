"""Hugging Face ``transformers`` schedules (``transformers.optimization``, 5.23.0) as pure
functions, and ``get_scheduler`` over every ``SchedulerType``.

Each ``transformers`` schedule is a ``torch.optim.lr_scheduler.LambdaLR`` whose lambda takes
the step (``last_epoch``, the count of ``step()`` calls) and returns a factor of the lr; the lr
in force at training step ``k`` is ``lr * factor(k)``. Phase tests are integer comparisons on
the count, progress and remaining steps are quotients of integers (``jaxsched.exact``), and
every cosine whose cycle count is a short binary fraction (``num_cycles`` 0.5, 1, 0.25, 1.5,
...) is reduced in integers and written as ``sin(..)**2`` of the distance to its zero: exact to
a few ulps at any count, including the last steps before a zero floor and the far counts
where ``transformers``' own float phase has drifted by 1e-7. Any other cycle count (0.3) has
its angle reduced in double-double arithmetic in float64, exact too.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.adapter import parse_optimizer
from jaxsched.core.exact import divide, float_dtype, is_x64, to_float
from jaxsched.core.plateau import ReduceLROnPlateau, reduce_lr_on_plateau
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.pytorch.adapters import LambdaLR
from jaxsched.transformers.factors import (
    Factor,
    cosine_factor,
    hard_restarts,
    warmup_factor,
    wsd_factor,
)
from jaxsched.transformers.greedy import GreedyLR, greedy_lr

__all__ = ["SCHEDULER_TYPES", "get_scheduler", "wsd_factor"]

SCHEDULER_TYPES = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
    "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr",
    "cosine_warmup_with_min_lr", "warmup_stable_decay", "greedy",
)
WSD_TYPES = ("linear", "cosine", "1-sqrt")


SPECIFIC_KWARGS = ("num_cycles", "power", "lr_end", "timescale", "min_lr", "min_lr_rate",
                   "warmup_lr_rate", "num_decay_steps", "num_stable_steps", "warmup_type",
                   "decay_type", "min_lr_ratio", "mode", "factor", "patience", "threshold",
                   "threshold_mode", "cooldown", "eps")


def _steps(fn: str, name: str, value: Any, minimum: int = -check.MAX_COUNT) -> int:
    """A step count; ``num_warmup_steps`` and ``num_training_steps`` may be negative, as
    ``transformers`` steps through them (a negative warmup never holds ``k < W``)."""
    if value is None:
        raise ValueError(f"{fn}: this scheduler requires {name}, got None")
    return check.phase(fn, name, value, minimum=minimum)


def _span(fn: str, w: int, t: int) -> int:
    """``max(1, T - W)``, which a count type must hold (a negative warmup lengthens it)."""
    if t - w > check.MAX_EXACT:
        raise ValueError(f"{fn}: num_training_steps - num_warmup_steps ({t} - ({w}) = "
                         f"{t - w}) must be at most {check.MAX_EXACT} (the step count's "
                         f"range); use a smaller num_training_steps or num_warmup_steps")
    return max(1, t - w)


def _rest(k: jax.Array, t: int) -> jax.Array:
    """``max(0, T - k)`` for ``k >= 0`` without overflowing (``T`` may be negative)."""
    top = max(t, 0)
    return top - jnp.minimum(k, top)


def _timescale(fn: str, w: int, timescale: Any) -> float:
    """inverse_sqrt's timescale, > 0: an int, or any positive real (``transformers`` takes
    ``(k + timescale - W) / timescale`` in floats)."""
    if timescale is None:
        timescale = w or 10_000
        if timescale < 0:
            raise ValueError(f"{fn}: inverse_sqrt's timescale defaults to num_warmup_steps "
                             f"({w}), which must then be > 0 (transformers divides by zero "
                             f"at step 0); pass a positive timescale")
        return timescale
    timescale = check.real(fn, "timescale", timescale)
    if timescale <= 0:
        raise ValueError(f"{fn}: timescale must be > 0 (transformers divides by it and takes "
                         f"the square root of (step + timescale - num_warmup_steps) / "
                         f"timescale, <= 0 from step num_warmup_steps - timescale), got "
                         f"{timescale!r}")
    return int(timescale) if timescale.is_integer() else timescale


def _factor(fn: str, name: str, w: int | None, t: int | None, kw: dict[str, Any],
            lr_init: Callable[[], float]) -> Factor:
    """Validates one type's arguments eagerly and returns its jnp factor of the step."""

    def take(key: str, default: Any) -> Any:
        return kw.pop(key, default)

    if name == "constant":
        return lambda k: jnp.ones((), float_dtype())
    if name == "constant_with_warmup":
        w = _steps(fn, "num_warmup_steps", w)
        return lambda k: jnp.where(k < w, warmup_factor(k, w), 1.0)
    if name == "inverse_sqrt":
        w = _steps(fn, "num_warmup_steps", w)
        timescale = _timescale(fn, w, take("timescale", None))
        shift = timescale - w  # as transformers: a float for a fractional timescale

        def inverse_sqrt(k: jax.Array) -> jax.Array:
            # k + shift overflows int32 near 2**31 - 1: add in floats there; in x64 an
            # integer timescale sums in integers (correctly rounded quotient) below 2**53
            floats = (to_float(k) + float(shift)) / float(timescale)
            if not (is_x64() and isinstance(timescale, int)):
                shifted = floats
            else:
                shifted = jnp.where(k <= check.MAX_EXACT - abs(shift),
                                    divide(k + shift, timescale), floats)
            return jnp.where(k < w, warmup_factor(k, w), 1.0 / jnp.sqrt(shifted))

        return inverse_sqrt
    if name == "warmup_stable_decay":
        w = _steps(fn, "num_warmup_steps", w)
        decay = _steps(fn, "num_decay_steps", take("num_decay_steps", None), minimum=0)
        stable = take("num_stable_steps", None)
        if stable is None:
            if t is None:
                raise ValueError(f"{fn}: warmup_stable_decay requires num_training_steps or "
                                 f"num_stable_steps, got neither")
            t = _steps(fn, "num_training_steps", t)
            # transformers takes t - w - decay even when negative: the decay then starts
            # part way through, right after the warmup
            stable = t - w - decay
        else:
            stable = check.phase(fn, "num_stable_steps", stable, minimum=0)
            if t is not None:
                # transformers warns and uses num_stable_steps
                _steps(fn, "num_training_steps", t)
                warnings.warn(f"{fn}: both num_training_steps ({t}) and num_stable_steps "
                              f"({stable}) are given; num_stable_steps is used, as in "
                              f"transformers", UserWarning, stacklevel=4)
        wt = check.choice(fn, "warmup_type", take("warmup_type", "linear"), WSD_TYPES)
        dt = check.choice(fn, "decay_type", take("decay_type", "cosine"), WSD_TYPES)
        r = check.real(fn, "min_lr_ratio", take("min_lr_ratio", 0.0))
        cycles = check.real(fn, "num_cycles", take("num_cycles", 0.5))
        return lambda k: wsd_factor(k, warmup=w, stable=stable, decay=decay, warmup_type=wt,
                                    decay_type=dt, min_lr_ratio=r, num_cycles=cycles)
    w = _steps(fn, "num_warmup_steps", w)
    t = _steps(fn, "num_training_steps", t)
    d = _span(fn, w, t)
    if name == "linear":
        return lambda k: jnp.where(k < w, warmup_factor(k, w), divide(_rest(k, t), d))
    if name in ("cosine", "cosine_with_min_lr"):
        cycles = check.real(fn, "num_cycles", take("num_cycles", 0.5))
        rate = _min_lr_rate(fn, kw, lr_init) if name == "cosine_with_min_lr" else None

        def cosine(k: jax.Array) -> jax.Array:
            factor = (cosine_factor(jnp.maximum(k - w, 0), d, cycles) if w >= 0 else
                      cosine_factor(k, d, cycles, shift=-w))  # k - W, without overflow
            if rate is not None:
                factor = factor * (1 - rate) + rate
            return jnp.where(k < w, warmup_factor(k, w), jnp.maximum(0.0, factor))

        return cosine
    if name == "cosine_with_restarts":
        # documented as an int, but transformers computes (num_cycles * progress) % 1.0 of
        # any real number of cycles
        cycles = check.real(fn, "num_cycles", take("num_cycles", 1))
        return hard_restarts(w, d, cycles)
    if name == "polynomial":
        end = check.real(fn, "lr_end", take("lr_end", 1e-7))
        power = check.nonneg(fn, "power", take("power", 1.0))  # < 0: 0**power at step T
        init = lr_init()
        if not init > end:
            raise ValueError(f"{fn}: lr_end ({end}) must be smaller than initial lr ({init})")
        if t == w:
            # transformers divides by num_training_steps - num_warmup_steps = 0 at step t
            raise ValueError(f"{fn}: polynomial needs num_training_steps ({t}) != "
                             f"num_warmup_steps ({w}) (transformers divides by their "
                             f"difference at step {t})")
        lr_range = init - end

        def polynomial(k: jax.Array) -> jax.Array:
            # transformers' 1 - (k - w) / (t - w), from the remaining steps: exact at k = t,
            # where a power < 1 magnifies any rounding, and relatively accurate before it
            pct = divide(jnp.minimum(_rest(k, t), d), d)
            # 0 ** power is 0 for any power > 0, also one that float32 rounds to 0
            powered = jnp.where(pct == 0, 0.0 if power > 0 else 1.0, jnp.power(pct, power))
            decay = (lr_range * powered + end) / init
            return jnp.where(k < w, warmup_factor(k, w), jnp.where(k > t, end / init, decay))

        return polynomial
    # cosine_warmup_with_min_lr: transformers' "..._lr_rate" variant, everything in floats
    cycles = check.real(fn, "num_cycles", take("num_cycles", 0.5))
    rate = _min_lr_rate(fn, kw, lr_init)
    wr = take("warmup_lr_rate", None)
    wr = None if wr is None else check.real(fn, "warmup_lr_rate", wr)
    decay_len = max(1.0, float(t) - float(w))  # float(num_training_steps - num_warmup_steps)

    def cosine_lr_rate(k: jax.Array) -> jax.Array:
        if wr is None:
            up = (to_float(k) + 1.0) / max(1, w)
        else:
            up = wr + (1.0 - wr) * to_float(k) / max(1, w - 1)
        factor = (cosine_factor(jnp.maximum(k - w, 0), int(decay_len), cycles, shift=1)
                  if w >= 0 else cosine_factor(k, int(decay_len), cycles, shift=1 - w))
        factor = factor * (1 - rate) + rate
        return jnp.where(k < w, up, jnp.maximum(0.0, factor))

    return cosine_lr_rate


def _last_boundary(name: str, w: Any, t: Any, kw: Mapping[str, Any]) -> tuple[str, int]:
    """The name and value of the largest phase end of a validated configuration: the
    warmup, the training steps, or warmup + stable + decay (WSD)."""
    ends = {"num_warmup_steps": w, "num_training_steps": t}
    if name == "warmup_stable_decay" and kw.get("num_stable_steps") is not None:
        ends = {"num_warmup_steps": w, "num_warmup_steps + num_stable_steps + "
                "num_decay_steps": int(w) + int(kw["num_stable_steps"]) +
                int(kw["num_decay_steps"])}
    if name == "constant":
        return "num_warmup_steps", 0
    return max(((k, int(v)) for k, v in ends.items() if v is not None),
               key=lambda kv: kv[1], default=("num_warmup_steps", 0))


def _reaching(fn: str, factor: Factor, end: tuple[str, int]) -> Factor:
    """``factor``, refusing when traced at an int32 count (no x64) a phase end past it. A
    Python int count (``LambdaLR``'s host path, taken when the phases are past int32) is
    evaluated exactly, on an int64 in float64."""

    def reached(k: Any) -> Any:
        if isinstance(k, numbers.Integral):
            with jax.enable_x64(True):
                return float(factor(jnp.asarray(k, jnp.int64)))
        check.reachable(fn, end[0], end[1], k)
        return factor(k)

    return reached


def _min_lr_rate(fn: str, kw: dict[str, Any], lr_init: Callable[[], float]) -> float:
    min_lr, rate = kw.pop("min_lr", None), kw.pop("min_lr_rate", None)
    if min_lr is not None and rate is not None:
        raise ValueError(f"{fn}: only one of min_lr or min_lr_rate may be set, got "
                         f"min_lr={min_lr!r}, min_lr_rate={rate!r}")
    if min_lr is not None:
        floor, init = check.real(fn, "min_lr", min_lr), lr_init()
        if not 0 < init:  # transformers divides by the lr: 0 raises
            raise ValueError(f"{fn}: min_lr ({floor!r}) is divided by the lr, which must be "
                             f"> 0, got lr={init!r}")
        return floor / init
    if rate is None:
        raise ValueError(f"{fn}: one of min_lr or min_lr_rate must be set in "
                         f"scheduler_specific_kwargs, got neither")
    return check.real(fn, "min_lr_rate", rate)


def _lr_init(fn: str, optimizer: Any) -> Callable[[], float]:
    """The optimizer's default lr (``optimizer.defaults["lr"]``), which ``transformers``
    uses for ``polynomial``'s and ``cosine_with_min_lr``'s absolute lrs."""

    def read() -> float:
        if isinstance(optimizer, numbers.Real) and not isinstance(optimizer, bool):
            return check.nonneg(fn, "optimizer", optimizer)
        defaults = getattr(optimizer, "defaults", None)
        if isinstance(defaults, Mapping) and "lr" in defaults:
            return check.nonneg(fn, "optimizer.defaults['lr']", float(defaults["lr"]))
        lrs = {g["lr"] for g in parse_optimizer(fn, optimizer)}
        if len(lrs) != 1:
            raise ValueError(f"{fn}: this scheduler reads the optimizer's default lr; param "
                             f"groups with different lrs {sorted(lrs)} have none (pass a "
                             f"torch optimizer, whose defaults hold it)")
        return lrs.pop()

    return read


@schedule_factory
def get_scheduler(
    name: str,
    optimizer: Any,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """``transformers.get_scheduler`` for JAX: any ``SchedulerType`` by name.

    ``lr(k) = lr0 * factor(k)`` with ``transformers``' factor (W warmup, T training steps):
    ``linear`` ``k/W`` then ``max(0, (T-k)/(T-W))``; ``cosine`` ``k/W`` then
    ``max(0, (1 + cos(2 pi cycles (k-W)/(T-W))) / 2)`` (past ``T`` it rises again, as in
    ``transformers``); ``cosine_with_restarts``, ``polynomial``, ``constant``,
    ``constant_with_warmup``, ``inverse_sqrt`` (``1/sqrt((k + timescale - W)/timescale)``),
    ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr`` (warmup ``(k+1)/W``) and
    ``warmup_stable_decay`` follow their ``transformers`` lambdas; ``reduce_lr_on_plateau``
    is torch's ReduceLROnPlateau; ``greedy`` is ``transformers``' ``GreedyLR``, metric-driven
    (``jaxsched.transformers.GreedyLR`` / ``jaxsched.transformers.greedy_lr``).

    Args:
        name: a ``transformers`` ``SchedulerType`` value (or the enum itself).
        optimizer: a float lr, giving a pure ``Schedule`` (for ``reduce_lr_on_plateau`` and
            ``greedy``: the optax transform ``jaxsched.reduce_lr_on_plateau`` /
            ``jaxsched.transformers.greedy_lr``); or param groups / a torch
            optimizer / an optax ``inject_hyperparams`` state, giving the torch-style adapter
            (``jaxsched.LambdaLR``, ``jaxsched.ReduceLROnPlateau`` or
            ``jaxsched.transformers.GreedyLR``) whose ``state_dict``
            matches the ``transformers`` scheduler's.
        num_warmup_steps: required by all but ``constant``, ``reduce_lr_on_plateau`` and
            ``greedy``.
        num_training_steps: required by ``linear``, ``cosine``, ``cosine_with_restarts``,
            ``polynomial`` and the min-lr cosines; ``warmup_stable_decay`` takes it or
            ``num_stable_steps``.
        scheduler_specific_kwargs: the type's extra arguments (``num_cycles``, ``power``,
            ``lr_end``, ``timescale``, ``min_lr``/``min_lr_rate``, ``warmup_lr_rate``,
            ``num_decay_steps``, ``num_stable_steps``, ``warmup_type``, ``decay_type``,
            ``min_lr_ratio``, or ReduceLROnPlateau's).

    Returns:
        A ``Schedule``, an optax transform or an adapter, as described under ``optimizer``.

    Raises:
        ValueError: on an unknown name or a missing step count; where
            ``transformers`` raises (``lr_end`` not below the lr, both or neither of
            ``min_lr``/``min_lr_rate``, an unknown WSD type) or cannot step through
            (``polynomial`` with ``num_training_steps == num_warmup_steps`` divides by zero
            at that step; ``min_lr`` with an lr of 0; a negative ``power``).
        TypeError: on arguments of the wrong type (a string or a bool for a number), and on
            ``scheduler_specific_kwargs`` the type does not take (as ``transformers``; those
            given to ``constant`` / ``constant_with_warmup``, which ``transformers`` ignores,
            are ignored with a warning).

    Every configuration ``transformers`` steps through is accepted with its values: a
    fractional or negative ``num_cycles`` for ``cosine_with_restarts`` (``transformers``
    computes ``(num_cycles * progress) % 1.0``), ``min_lr_rate`` or ``min_lr_ratio`` outside
    [0, 1], ``num_warmup_steps > num_training_steps``, negative ``num_warmup_steps`` or
    ``num_training_steps`` (a negative warmup never holds ``k < W``: the decay starts part
    way through), a fractional ``timescale`` for ``inverse_sqrt`` (which must be positive;
    with a negative warmup it must be given, as its default, the warmup, divides by zero),
    a WSD decay longer than the training (its stable phase negative); WSD given both
    ``num_training_steps`` and ``num_stable_steps`` warns once, as ``transformers`` does,
    and uses the latter.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.get_scheduler("linear", 1.0, num_warmup_steps=2,
        ...                            num_training_steps=6)
        >>> [round(float(s(k)), 6) for k in range(8)]
        [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]

    Matches ``transformers.get_scheduler`` of transformers 5.23.0, all twelve types.
    """
    fn = "jaxsched.get_scheduler"
    name = getattr(name, "value", name)
    if name not in SCHEDULER_TYPES:
        raise ValueError(f"{fn}: name must be one of {SCHEDULER_TYPES}, got "
                         f"{name!r}{check.did_you_mean(name, SCHEDULER_TYPES)}")
    if scheduler_specific_kwargs is not None and not isinstance(scheduler_specific_kwargs,
                                                                Mapping):
        raise TypeError(f"{fn}: scheduler_specific_kwargs must be a dict or None, got "
                        f"{scheduler_specific_kwargs!r}")
    kw = dict(scheduler_specific_kwargs or {})
    pure = isinstance(optimizer, numbers.Real) and not isinstance(optimizer, bool)
    if not pure:
        parse_optimizer(fn, optimizer)  # a bad optimizer is named as get_scheduler's
    if name == "reduce_lr_on_plateau":
        if pure:
            return reduce_lr_on_plateau(check.nonneg(fn, "optimizer", optimizer), **kw)
        return ReduceLROnPlateau(optimizer, **kw)
    if name == "greedy":
        if pure:
            return greedy_lr(check.real(fn, "optimizer", optimizer), **kw)
        return GreedyLR(optimizer, **kw)
    factor = _reaching(fn, _factor(fn, name, num_warmup_steps, num_training_steps, kw,
                                   _lr_init(fn, optimizer)), _last_boundary(
        name, num_warmup_steps, num_training_steps, scheduler_specific_kwargs or {}))
    specific = dict(scheduler_specific_kwargs or {})
    if kw and name in ("constant", "constant_with_warmup"):
        # transformers does not pass scheduler_specific_kwargs to these two
        warnings.warn(f"{fn}: scheduler_specific_kwargs {sorted(kw)} are ignored for "
                      f"{name!r}, as transformers ignores them", UserWarning, stacklevel=2)
        specific = {}
    elif kw:
        key = sorted(kw)[0]
        raise TypeError(f"{fn}: unknown scheduler_specific_kwargs for {name!r}: "
                        f"{sorted(kw)}{check.did_you_mean(key, SPECIFIC_KWARGS)} "
                        f"(transformers raises TypeError too)")
    params = dict(name=name, num_warmup_steps=num_warmup_steps,
                  num_training_steps=num_training_steps, **specific)
    if not pure:
        adapter = LambdaLR(optimizer, lr_lambda=factor)
        # a transformers factor (not a user lambda): exact in x64 on the host to 2**53-1
        adapter._max_count = check.MAX_EXACT
        return adapter
    base = check.nonneg(fn, "optimizer", optimizer)
    return Schedule(lambda k: base * factor(k), name=f"{fn}({name!r})",
                    params=dict(params, lr=base))
