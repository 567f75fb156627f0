"""torch's cycling schedules (torch 2.13): CosineAnnealingWarmRestarts, CyclicLR here,
OneCycleLR in ``one_cycle``.

Cycle and phase positions are found in integer arithmetic (restart tables, remainders,
floored phase ends), so they are exact at any count; positions within a cycle or phase and
their complements are quotients of integers (``jaxsched.exact``), interpolations weighted
sums of non-negative terms, cosines ``sin**2`` of the distance to their low point. Every
value is within a few ulps of the exact value of torch's formula, in float64 and float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import (
    divide,
    float_dtype,
    half_cos,
    idiv,
    imod,
    int_pow,
    mix,
    to_float,
)
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.pytorch.one_cycle import one_cycle_lr
from jaxsched.pytorch.schedules import traceable

__all__ = ["cosine_annealing_warm_restarts", "cyclic_lr", "one_cycle_lr"]


@schedule_factory
def cosine_annealing_warm_restarts(T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                                   *, lr: float) -> Schedule:
    """torch's CosineAnnealingWarmRestarts (SGDR), stepped once per ``step()``.

    ``lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` where cycle ``n``
    starts at ``T_0 * (T_mult**n - 1) / (T_mult - 1)`` (``n * T_0`` when ``T_mult`` is 1),
    lasts ``T_i = T_0 * T_mult**n`` steps, and ``T_cur`` counts steps since its start. The
    restart positions come from an integer table, as torch's sequential stepping computes them
    (torch's ``step(epoch)`` path uses a float log instead and can land one cycle early at an
    exact restart; the adapter's ``step(epoch)`` follows the sequential path).

    Args:
        T_0: length of the first cycle, a positive integer.
        T_mult: growth factor of the cycle length, an integer >= 1.
        eta_min: the lr at the end of each cycle, >= 0 (above ``lr`` the cosine rises, as
            torch's does).
        lr: the optimizer's lr (the lr at each restart).

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a non-integer or out-of-range ``T_0`` / ``T_mult``, or a
            negative or non-finite ``eta_min``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.cosine_annealing_warm_restarts(2, T_mult=2, lr=1.0)
        >>> [round(float(s(k)), 6) for k in range(8)]
        [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0, 0.96194]

    Matches ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` of torch 2.13.0.
    """
    fn = "jaxsched.cosine_annealing_warm_restarts"
    t0 = check.phase(fn, "T_0", T_0)
    mult = check.integer(fn, "T_mult", T_mult, minimum=1)
    eta = check.nonneg(fn, "eta_min", eta_min)
    base = check.nonneg(fn, "lr", lr)
    starts, lengths = [0], [t0]  # every cycle that starts at a count int64 holds
    while mult > 1 and starts[-1] + lengths[-1] <= check.MAX_PY_COUNT:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * mult)

    low, span = eta, base - eta

    def lr_fn(k: jax.Array) -> jax.Array:
        check.reachable(fn, "T_0", t0, k)
        if mult == 1:  # the steps left in the cycle, in integers
            rest, t_i = to_float(t0 - imod(k, t0)), t0
        else:  # the cycles the count's dtype reaches; the steps left as end - k in integers,
            # plus the part of a last cycle's end past the dtype (exact, or 1e-16 relative)
            top = int(jnp.iinfo(k.dtype).max)
            live = [s for s in starts if s <= top]
            ends = [s + t for s, t in zip(live, lengths, strict=False)]
            n = jnp.sum(k[..., None] >= jnp.asarray(live, k.dtype), axis=-1) - 1
            rest = (to_float(jnp.asarray([min(e, top) for e in ends], k.dtype)[n] - k)
                    + jnp.asarray([float(max(e - top, 0)) for e in ends], float_dtype())[n])
            t_i = jnp.asarray([float(x) for x in lengths[:len(live)]], float_dtype())[n]
        # (1 + cos(pi t / T)) / 2 = sin(pi (T - t) / (2T))**2: the distance to the low end
        return low + span * half_cos(rest, t_i)

    return Schedule(lr_fn, name=fn, params=dict(T_0=t0, T_mult=mult, eta_min=eta, lr=base))


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@schedule_factory
def cyclic_lr(
    base_lr: float,
    max_lr: float,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[jax.Array], Any] | None = None,
    scale_mode: str = "cycle",
    cycle_momentum: bool = True,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> Schedule:
    """torch's CyclicLR: triangular cycles between ``base_lr`` and ``max_lr``, forever.

    With ``T = up + down``: ``cycle = 1 + k // T``, ``x = 1 + k/T - cycle``; ``scale = x /
    (up/T)`` on the way up, ``(x - 1) / (up/T - 1)`` on the way down;
    ``lr = base_lr + (max_lr - base_lr) * scale * f`` and ``momentum = max_momentum -
    (max_momentum - base_momentum) * scale * f``, with ``f = scale_fn(cycle)`` (scale_mode
    ``"cycle"``) or ``scale_fn(k)`` (``"iterations"``). Built-in modes: ``triangular``
    (``f = 1``), ``triangular2`` (``f = 1 / 2**(cycle - 1)``; torch raises ``OverflowError``
    past cycle 1024, where ``2.0 ** 1024`` overflows: this goes on with the exact value,
    which is below float64's range, so the lr is ``base_lr``) and ``exp_range``
    (``f = gamma**k``). Positions are exact integer quotients (torch's float ``x`` loses
    the low bits of ``k / T``: 1e-7 relative at counts of 10**6 with asymmetric phases), and
    the momentum is a weighted sum of non-negative terms, relatively accurate down to a
    ``base_momentum`` of 0. As in torch, a built-in mode sets
    ``scale_mode`` itself, and the lr at construction is ``base_lr`` whatever the optimizer's
    lr was.

    Args:
        base_lr: the lower lr, >= 0.
        max_lr: the lr at the peak of a cycle, >= 0 (below ``base_lr`` the cycles dip, as
            torch's do).
        step_size_up: steps of the rising half, a positive integer.
        step_size_down: steps of the falling half (>= 0); ``None`` means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``; ignored with ``scale_fn``.
        gamma: ``exp_range``'s base, > 0 (a growth factor > 1 is accepted, as torch does;
            its amplitude overflows far out, where torch's does).
        scale_fn: a custom jnp-traceable ``f`` of the (float) cycle or step.
        scale_mode: ``"cycle"`` or ``"iterations"``, used with ``scale_fn``.
        cycle_momentum: whether the schedule has a ``momentum`` curve.
        base_momentum: momentum at the peak lr, a finite real (torch accepts any; values
            outside [0, 1] or above ``max_momentum`` are taken as given).
        max_momentum: momentum at the cycle's ends, a finite real.

    Returns:
        A ``Schedule``, with ``momentum`` when ``cycle_momentum``.

    Raises:
        TypeError, ValueError: on bad arguments, an unknown mode, or an untraceable
            ``scale_fn``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.cyclic_lr(0.0, 1.0, step_size_up=2, mode="triangular2")
        >>> [float(s(k)) for k in range(9)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]

    Matches ``torch.optim.lr_scheduler.CyclicLR`` of torch 2.13.0.
    """
    fn = "jaxsched.cyclic_lr"
    lo = check.nonneg(fn, "base_lr", base_lr)
    hi = check.nonneg(fn, "max_lr", max_lr)
    up = check.phase(fn, "step_size_up", step_size_up)
    down = up if step_size_down is None else check.phase(
        fn, "step_size_down", step_size_down, minimum=0)
    total = check.phase(fn, "step_size_up + step_size_down", up + down)
    g = check.real(fn, "gamma", gamma)
    if g <= 0:
        raise ValueError(f"{fn}: gamma must be > 0, got {gamma!r}")
    check.choice(fn, "mode", mode, CYCLIC_MODES)
    check.choice(fn, "scale_mode", scale_mode, ("cycle", "iterations"))
    if scale_fn is None:
        scale_mode = "iterations" if mode == "exp_range" else "cycle"
    else:
        traceable(fn, "scale_fn", scale_fn)
    cycle_momentum = check.boolean(fn, "cycle_momentum", cycle_momentum)
    m_lo = check.real(fn, "base_momentum", base_momentum)
    m_hi = check.real(fn, "max_momentum", max_momentum)
    log_g = math.log(g)

    def position(k: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """``(scale, 1 - scale, f, 1 - f)``: torch's ``x = 1 + k/T - cycle`` is
        ``(k mod T) / T`` exactly, so ``scale`` is ``j / up`` rising and ``(T - j) / down``
        falling, each a quotient of integers, as is its complement."""
        check.reachable(fn, "step_size_up + step_size_down", total, k)
        cycle = 1 + idiv(k, total)
        j = imod(k, total)
        rising = j <= up
        num = jnp.where(rising, j, total - j)
        den = jnp.where(rising, up, max(down, 1))
        scale, rest = divide(num, den), divide(den - num, den)
        arg = cycle if scale_mode == "cycle" else k
        if scale_fn is not None:
            factor = jnp.asarray(scale_fn(to_float(arg)), float_dtype())
            return scale, rest, factor, 1.0 - factor
        if mode == "triangular":
            return scale, rest, jnp.ones_like(scale), jnp.zeros_like(scale)
        if mode == "triangular2":  # 1 / 2**(cycle - 1), exactly (0 past float's range)
            factor = jnp.ldexp(jnp.ones_like(scale), -jnp.minimum(cycle - 1, 2000))
            return scale, rest, factor, 1.0 - factor
        factor = int_pow(g, k)  # exp_range: gamma**k; 1 - gamma**k without cancellation
        return scale, rest, factor, -jnp.expm1(to_float(k) * log_g)

    def lr_fn(k: jax.Array) -> jax.Array:
        scale, _, factor, _ = position(k)
        return lo + (hi - lo) * scale * factor

    def mom_fn(k: jax.Array) -> jax.Array:
        # max - (max - base) s f = max (1 - s f) + base s f, with 1 - s f = (1 - s) + s (1 - f)
        scale, rest, factor, rest_f = position(k)
        return mix(m_hi, rest + scale * rest_f, m_lo, scale * factor)

    params = dict(base_lr=lo, max_lr=hi, step_size_up=up, step_size_down=down, mode=mode,
                  gamma=g, scale_fn=scale_fn, scale_mode=scale_mode,
                  cycle_momentum=cycle_momentum, base_momentum=m_lo, max_momentum=m_hi)
    momentum = Schedule(mom_fn, name=fn + ".momentum", params=params) if cycle_momentum else None
    return Schedule(lr_fn, momentum=momentum, name=fn, params=params)
