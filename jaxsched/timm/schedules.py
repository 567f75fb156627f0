"""timm 1.0.31's schedulers (``timm.scheduler``) as pure schedules of the count ``t``.

``s(t)`` is the lr timm puts in force with ``step(t)`` (``t_in_epochs=True``) or
``step_update(t)`` (``t_in_epochs=False``): timm's training loop calls them after epoch
``t - 1`` or update ``t - 1``, so ``s(t)`` is the lr of epoch or update ``t``. Count 0 is the
lr the scheduler sets when it is built (``warmup_lr_init`` with a warmup, else the lr), which
for ``tanh_lr`` and ``multistep_lr`` differs from their formula at 0; ``step_zero='formula'``
gives the formula there instead (what an explicit ``step(0)`` sets). timm computes in Python
float64; see ``jaxsched.timm.phases`` for where it is inexact and this port is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import floor_div, int_pow, mix
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.timm.phases import (
    Cycles,
    assemble,
    common_checks,
    shape_weights,
)

__all__ = ["cosine_lr", "multistep_lr", "poly_lr", "step_lr", "tanh_lr"]

DECAY = " (a decay above 1 grows the lr; timm accepts it silently)"


def _cyclic(fn: str, kind: str, t_initial: Any, lr_min: Any, cycle_mul: Any,
            cycle_decay: Any, cycle_limit: Any, warmup_t: Any, warmup_lr_init: Any,
            warmup_prefix: Any, noise: tuple[Any, ...], lr: Any, lr_scale: Any,
            step_zero: str, shape: dict[str, Any]) -> Schedule:
    """cosine / tanh / poly: ``lr_min + (lr * cycle_decay**i - lr_min) * w(x)`` in cycle
    ``i < cycle_limit`` at position ``x``, then ``lr_min``."""
    lr, warmup_t, warmup_lr_init, lr_scale, noise = common_checks(
        fn, lr, warmup_t, warmup_lr_init, step_zero, lr_scale, noise)
    lr_min = check.nonneg(fn, "lr_min", lr_min)
    check.ordered(fn, "lr_min", lr_min, "lr", lr, " (the lr would anneal upward; timm "
                  "accepts it silently)")
    cycle_decay = check.unit(fn, "cycle_decay", cycle_decay, DECAY)
    warmup_prefix = check.boolean(fn, "warmup_prefix", warmup_prefix)
    span = check.MAX_PY_COUNT - (warmup_t if warmup_prefix else 0)
    cycles = Cycles(fn, t_initial, cycle_mul, cycle_limit, span)
    single_cosine = kind == "cosine" and cycles.table is None and cycles.cycle_limit == 1

    def main(t: jax.Array) -> jax.Array:
        t = t.astype(jnp.result_type(int))
        check.reachable(fn, "t_initial", cycles.t_initial, t)
        i = cycles.index(t)
        x, rest = cycles.position(t, i)
        w, w_min = shape_weights(kind, x, rest, **shape)
        value = mix(lr * cycles.decay(cycle_decay, i), w, lr_min, w_min)
        if single_cosine:  # past the one cycle x = 1 exactly, so w = 0: value is lr_min
            return value
        value = jnp.where(i < cycles.cycle_limit, value, lr_min)
        if cycles.exact_to < jnp.iinfo(t.dtype).max:  # past the tabulated cycles: NaN
            value = jnp.where(t > cycles.exact_to, jnp.nan, value)
        return value

    target = lr
    if warmup_t and not warmup_prefix and kind == "tanh":  # timm warms up to tanh(warmup_t)
        with jax.enable_x64(True):
            target = float(main(jnp.asarray(warmup_t)))
    params = dict(t_initial=cycles.t_initial, lr_min=lr_min, cycle_mul=cycles.cycle_mul,
                  cycle_decay=cycle_decay, cycle_limit=cycles.cycle_limit, warmup_t=warmup_t,
                  warmup_lr_init=warmup_lr_init, warmup_prefix=warmup_prefix, **shape, lr=lr,
                  lr_scale=lr_scale, step_zero=step_zero)
    return assemble(fn, fn, params, main, lr=lr, warmup_t=warmup_t,
                    warmup_lr_init=warmup_lr_init, warmup_target=target,
                    warmup_prefix=warmup_prefix, step_zero=step_zero, lr_scale=lr_scale,
                    noise=noise)


@schedule_factory
def cosine_lr(t_initial: int, lr_min: float = 0.0, cycle_mul: float = 1.0,
              cycle_decay: float = 1.0, cycle_limit: int = 1, warmup_t: int = 0,
              warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
              noise_range_t: Any = None, noise_pct: float = 0.67, noise_std: float = 1.0,
              noise_seed: int = 42, k_decay: float = 1.0, *, lr: float, lr_scale: float = 1.0,
              step_zero: str = "construction",
              noise_type: str = "normal") -> Schedule:
    """timm's CosineLRScheduler: cosine annealing with warmup, restarts and k-decay.

    In cycle ``i < cycle_limit`` (lengths ``t_initial * cycle_mul**i``) at position
    ``t_curr`` of ``t_i``: ``lr_min + (lr * cycle_decay**i - lr_min) * (1 + cos(pi *
    t_curr**k / t_i**k)) / 2``; ``lr_min`` after the last cycle; below ``warmup_t`` a linear
    warmup from ``warmup_lr_init`` to ``lr``, which shifts the cycles when
    ``warmup_prefix``.

    Args:
        t_initial: the first cycle's length (>= 1).
        lr_min: the floor (0 <= lr_min <= lr).
        cycle_mul: each cycle's length over the previous one's (>= 1).
        cycle_decay: each cycle's peak over the previous one's (in [0, 1]).
        cycle_limit: the number of cycles (>= 0).
        warmup_t: warmup length; warmup_lr_init: its start; warmup_prefix: whether the
            cycles start after the warmup (else the warmup overlays the first steps).
        noise_range_t, noise_pct, noise_std, noise_seed: timm's lr noise, on at counts
            ``t >= noise_range_t`` (or ``a <= t < b`` for a pair): ``lr + lr * n`` with
            ``n`` torch's seeded draw, reproduced exactly (``jaxsched.timm.noise``).
        k_decay: the k of k-decay (> 0).
        lr: the optimizer's lr (timm's ``base_values``); lr_scale: the param group's
            ``lr_scale`` (timm multiplies every value by it).
        step_zero: ``'construction'`` or ``'formula'``, the value at count 0 (module doc).

    Returns:
        A ``jaxsched.Schedule``.

    Raises:
        ValueError / TypeError: for any argument outside the ranges above.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.cosine_lr(t_initial=10, lr_min=0.01, warmup_t=2, lr=0.1)
        >>> [round(float(s(k)), 4) for k in (0, 1, 2, 7, 10)]
        [0.0, 0.05, 0.0914, 0.0285, 0.01]
    """
    fn = "jaxsched.timm.cosine_lr"
    k_decay = check.real(fn, "k_decay", k_decay)
    if k_decay <= 0:
        raise ValueError(f"{fn}: k_decay must be > 0, got {k_decay!r}")
    return _cyclic(fn, "cosine", t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit,
                   warmup_t, warmup_lr_init, warmup_prefix,
                   (noise_range_t, noise_pct, noise_std, noise_seed, noise_type),
                   lr, lr_scale, step_zero,
                   dict(k_decay=k_decay))


@schedule_factory
def tanh_lr(t_initial: int, lb: float = -7.0, ub: float = 3.0, lr_min: float = 0.0,
            cycle_mul: float = 1.0, cycle_decay: float = 1.0, cycle_limit: int = 1,
            warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
            noise_range_t: Any = None, noise_pct: float = 0.67, noise_std: float = 1.0,
            noise_seed: int = 42, *, lr: float, lr_scale: float = 1.0,
            step_zero: str = "construction",
            noise_type: str = "normal") -> Schedule:
    """timm's TanhLRScheduler: ``lr_min + (peak - lr_min) * (1 - tanh(lb (1 - x) + ub x)) / 2``
    at position ``x = t_curr / t_i`` of cycle ``i`` (peak ``lr * cycle_decay**i``).

    Cycles, warmup and the other arguments are ``cosine_lr``'s; ``lb < ub``. Without
    ``warmup_prefix`` the warmup ends at the formula's value at ``warmup_t``, as in timm.
    At count 0 without a warmup the lr is ``lr`` itself (what timm sets when built), not
    the formula's ``lr (1 - tanh(lb)) / 2``; ``step_zero='formula'`` gives the latter.

    Returns:
        A ``jaxsched.Schedule``.

    Raises:
        ValueError / TypeError: for an argument out of range, ``lb >= ub`` among them.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.tanh_lr(t_initial=10, lr=0.1)
        >>> [round(float(s(k)), 4) for k in (0, 1, 5, 9, 10)]
        [0.1, 0.1, 0.0982, 0.0018, 0.0]
    """
    fn = "jaxsched.timm.tanh_lr"
    lb, ub = check.real(fn, "lb", lb), check.real(fn, "ub", ub)
    if not lb < ub:
        raise ValueError(f"{fn}: lb ({lb!r}) must be below ub ({ub!r})")
    return _cyclic(fn, "tanh", t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit,
                   warmup_t, warmup_lr_init, warmup_prefix,
                   (noise_range_t, noise_pct, noise_std, noise_seed, noise_type),
                   lr, lr_scale, step_zero,
                   dict(lb=lb, ub=ub))


@schedule_factory
def poly_lr(t_initial: int, power: float = 0.5, lr_min: float = 0.0, cycle_mul: float = 1.0,
            cycle_decay: float = 1.0, cycle_limit: int = 1, warmup_t: int = 0,
            warmup_lr_init: float = 0.0, warmup_prefix: bool = False, noise_range_t: Any = None,
            noise_pct: float = 0.67, noise_std: float = 1.0, noise_seed: int = 42,
            k_decay: float = 1.0, *, lr: float, lr_scale: float = 1.0,
            step_zero: str = "construction",
            noise_type: str = "normal") -> Schedule:
    """timm's PolyLRScheduler: ``lr_min + (peak - lr_min) * (1 - t_curr**k / t_i**k)**power``
    in cycle ``i`` (peak ``lr * cycle_decay**i``); cycles and warmup are ``cosine_lr``'s.

    Args:
        power: the exponent (>= 0; a negative one makes the lr infinite at each cycle's
            end, which timm accepts silently).
        Others: as ``cosine_lr``.

    Returns:
        A ``jaxsched.Schedule``.

    Raises:
        ValueError / TypeError: for an argument out of range.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.poly_lr(t_initial=10, power=2.0, lr=0.1)
        >>> [round(float(s(k)), 4) for k in (0, 5, 9, 10)]
        [0.1, 0.025, 0.001, 0.0]
    """
    fn = "jaxsched.timm.poly_lr"
    power = check.nonneg(fn, "power", power)
    k_decay = check.real(fn, "k_decay", k_decay)
    if k_decay <= 0:
        raise ValueError(f"{fn}: k_decay must be > 0, got {k_decay!r}")
    return _cyclic(fn, "poly", t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit,
                   warmup_t, warmup_lr_init, warmup_prefix,
                   (noise_range_t, noise_pct, noise_std, noise_seed, noise_type),
                   lr, lr_scale, step_zero,
                   dict(power=power, k_decay=k_decay))



def _warmup_only(fn: str, lr: Any, warmup_t: Any, warmup_lr_init: Any, warmup_prefix: Any,
                 noise: tuple[Any, ...], lr_scale: Any, step_zero: Any
                 ) -> tuple[float, int, float, bool, float, Any]:
    lr, warmup_t, warmup_lr_init, lr_scale, noise = common_checks(
        fn, lr, warmup_t, warmup_lr_init, step_zero, lr_scale, noise)
    return lr, warmup_t, warmup_lr_init, check.boolean(fn, "warmup_prefix", warmup_prefix), \
        lr_scale, noise


@schedule_factory
def step_lr(decay_t: float, decay_rate: float = 1.0, warmup_t: int = 0,
            warmup_lr_init: float = 0.0, warmup_prefix: bool = True, noise_range_t: Any = None,
            noise_pct: float = 0.67, noise_std: float = 1.0, noise_seed: int = 42, *,
            lr: float, lr_scale: float = 1.0, step_zero: str = "construction",
            noise_type: str = "normal") -> Schedule:
    """timm's StepLRScheduler: ``lr * decay_rate ** floor(t / decay_t)`` after the warmup
    (``t`` counted from its end when ``warmup_prefix``, the default here as in timm).

    ``decay_t`` may be fractional (timm's ``create_scheduler_v2`` multiplies epochs such as
    EfficientNet's 2.4 by the updates per epoch); the floor is exact. timm's ``constant``
    schedule is ``step_lr(decay_t=1, decay_rate=1)``.

    Args:
        decay_t: the decay interval (> 0); decay_rate: the factor (in [0, 1]).
        Others: as ``cosine_lr``.

    Returns:
        A ``jaxsched.Schedule``.

    Raises:
        ValueError / TypeError: for an argument out of range.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.step_lr(decay_t=2.4, decay_rate=0.5, lr=0.1)
        >>> [round(float(s(k)), 4) for k in (0, 2, 3, 5, 7, 8)]
        [0.1, 0.1, 0.05, 0.025, 0.025, 0.0125]
    """
    fn = "jaxsched.timm.step_lr"
    d = check.real(fn, "decay_t", decay_t)
    if d <= 0:
        raise ValueError(f"{fn}: decay_t must be > 0, got {decay_t!r}")
    rate = check.unit(fn, "decay_rate", decay_rate, DECAY)
    lr, warmup_t, warmup_lr_init, warmup_prefix, lr_scale, noise = _warmup_only(
        fn, lr, warmup_t, warmup_lr_init, warmup_prefix,
        (noise_range_t, noise_pct, noise_std, noise_seed, noise_type), lr_scale, step_zero)

    def main(t: jax.Array) -> jax.Array:
        check.reachable(fn, "decay_t", d, t)
        return lr * int_pow(rate, floor_div(t, d))

    params = dict(decay_t=d, decay_rate=rate, warmup_t=warmup_t, warmup_lr_init=warmup_lr_init,
                  warmup_prefix=warmup_prefix, lr=lr, lr_scale=lr_scale, step_zero=step_zero)
    return assemble(fn, fn, params, main, lr=lr, warmup_t=warmup_t,
                    warmup_lr_init=warmup_lr_init, warmup_target=lr,
                    warmup_prefix=warmup_prefix, step_zero=step_zero, lr_scale=lr_scale,
                    noise=noise)


@schedule_factory
def multistep_lr(decay_t: Sequence[float], decay_rate: float = 1.0, warmup_t: int = 0,
                 warmup_lr_init: float = 0.0, warmup_prefix: bool = True,
                 noise_range_t: Any = None, noise_pct: float = 0.67, noise_std: float = 1.0,
                 noise_seed: int = 42, *, lr: float, lr_scale: float = 1.0,
                 step_zero: str = "construction",
                 noise_type: str = "normal") -> Schedule:
    """timm's MultiStepLRScheduler: ``lr * decay_rate ** n(t)`` after the warmup, with
    ``n(t) = bisect_right(decay_t, t + 1)``, the number of milestones at or below ``t + 1``.

    timm's ``t + 1`` means the lr drops one step *before* each milestone (torch's
    MultiStepLR drops at it); this is reproduced. The milestones must be sorted (timm's
    ``bisect`` silently gives wrong counts otherwise).

    Args:
        decay_t: the milestones, non-decreasing; decay_rate: the factor (in [0, 1]).
        Others: as ``cosine_lr``.

    Returns:
        A ``jaxsched.Schedule``.

    Raises:
        ValueError / TypeError: for an argument out of range or unsorted milestones.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.multistep_lr(decay_t=[3, 5], decay_rate=0.1, lr=1.0)
        >>> [round(float(s(k)), 4) for k in range(6)]
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    fn = "jaxsched.timm.multistep_lr"
    if isinstance(decay_t, (str, bytes)) or not isinstance(decay_t, Sequence):
        raise TypeError(f"{fn}: decay_t must be a list of milestones, got {decay_t!r}")
    ms = [check.real(fn, f"decay_t[{i}]", m) for i, m in enumerate(decay_t)]
    if ms != sorted(ms):
        raise ValueError(f"{fn}: decay_t must be sorted (timm's bisect miscounts otherwise), "
                         f"got {decay_t!r}")
    rate = check.unit(fn, "decay_rate", decay_rate, DECAY)
    lr, warmup_t, warmup_lr_init, warmup_prefix, lr_scale, noise = _warmup_only(
        fn, lr, warmup_t, warmup_lr_init, warmup_prefix,
        (noise_range_t, noise_pct, noise_std, noise_seed, noise_type), lr_scale, step_zero)
    # m <= t + 1  <=>  ceil(m) - 1 <= t for an integer t; never-reached milestones dropped
    firsts = [max(-1, math.ceil(m) - 1) for m in ms if math.ceil(m) - 1 <= check.MAX_EXACT]

    def main(t: jax.Array) -> jax.Array:
        t = t.astype(jnp.result_type(int))
        if firsts:
            check.reachable(fn, "decay_t[-1]", firsts[-1], t)
        n = jnp.searchsorted(jnp.asarray(firsts, t.dtype), t, side="right") if firsts else 0
        return lr * int_pow(rate, jnp.asarray(n))

    params = dict(decay_t=ms, decay_rate=rate, warmup_t=warmup_t, warmup_lr_init=warmup_lr_init,
                  warmup_prefix=warmup_prefix, lr=lr, lr_scale=lr_scale, step_zero=step_zero)
    return assemble(fn, fn, params, main, lr=lr, warmup_t=warmup_t,
                    warmup_lr_init=warmup_lr_init, warmup_target=lr,
                    warmup_prefix=warmup_prefix, step_zero=step_zero, lr_scale=lr_scale,
                    noise=noise)
