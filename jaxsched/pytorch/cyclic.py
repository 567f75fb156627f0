"""torch's cycling schedules (torch 2.13): CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR.

Cycle and phase positions are found in integer arithmetic (restart tables, remainders,
floored phase ends), so they are exact at any count; positions within a cycle or phase and
their complements are quotients of integers (``jaxsched.exact``), interpolations weighted
sums of non-negative terms, cosines ``sin**2`` of the distance to their low point. Every
value is within a few ulps of the exact value of torch's formula, in float64 and float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.exact import (
    divide,
    float_dtype,
    half_cos,
    idiv,
    imod,
    int_pow,
    is_x64,
    mix,
    to_float,
)
from jaxsched.core.schedule import Schedule
from jaxsched.pytorch.schedules import traceable

__all__ = ["cosine_annealing_warm_restarts", "cyclic_lr", "one_cycle_lr"]


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
        eta_min: the lr at the end of each cycle, in ``[0, lr]`` (torch accepts an
            ``eta_min`` above ``lr`` and anneals upward; refused here).
        lr: the optimizer's lr (the lr at each restart).

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a non-integer or out-of-range ``T_0`` / ``T_mult``, or an
            ``eta_min`` outside ``[0, lr]``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.cosine_annealing_warm_restarts(2, T_mult=2, lr=1.0)
        >>> [round(float(s(k)), 6) for k in range(8)]
        [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0, 0.96194]

    Matches ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` of torch 2.13.0.
    """
    fn = "jaxsched.cosine_annealing_warm_restarts"
    t0 = check.integer(fn, "T_0", T_0, minimum=1)
    mult = check.integer(fn, "T_mult", T_mult, minimum=1)
    eta = check.nonneg(fn, "eta_min", eta_min)
    base = check.nonneg(fn, "lr", lr)
    check.ordered(fn, "eta_min", eta, "lr", base, check.ANNEAL_UP)
    starts, lengths = [0], [t0]
    while mult > 1 and starts[-1] + lengths[-1] <= check.MAX_COUNT:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * mult)

    low, span = eta, base - eta

    def lr_fn(k: jax.Array) -> jax.Array:
        if mult == 1:
            t_cur, t_i = imod(k, t0), t0
        else:
            n = jnp.sum(k[..., None] >= jnp.asarray(starts, k.dtype), axis=-1) - 1
            t_cur = k - jnp.asarray(starts, k.dtype)[n]
            t_i = jnp.asarray([float(x) for x in lengths], float_dtype())[n]
        # (1 + cos(pi t / T)) / 2 = sin(pi (T - t) / (2T))**2: the distance to the low end
        return low + span * half_cos(to_float(t_i) - to_float(t_cur), t_i)

    return Schedule(lr_fn, name=fn, params=dict(T_0=t0, T_mult=mult, eta_min=eta, lr=base))


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


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
        max_lr: the upper lr, ``>= base_lr``.
        step_size_up: steps of the rising half, a positive integer.
        step_size_down: steps of the falling half (>= 0); ``None`` means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``; ignored with ``scale_fn``.
        gamma: ``exp_range``'s base, in (0, 1] (a growth factor > 1, which torch accepts
            and whose lr overflows, is refused).
        scale_fn: a custom jnp-traceable ``f`` of the (float) cycle or step.
        scale_mode: ``"cycle"`` or ``"iterations"``, used with ``scale_fn``.
        cycle_momentum: whether the schedule has a ``momentum`` curve.
        base_momentum: momentum at the peak lr, in [0, 1].
        max_momentum: momentum at the cycle's ends, in [``base_momentum``, 1].

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
    check.ordered(fn, "base_lr", lo, "max_lr", hi)
    up = check.integer(fn, "step_size_up", step_size_up, minimum=1)
    down = up if step_size_down is None else check.integer(
        fn, "step_size_down", step_size_down, minimum=0)
    total = check.integer(fn, "step_size_up + step_size_down", up + down, minimum=1)
    g = check.unit(fn, "gamma", gamma, check.GROWTH)
    if g <= 0:
        raise ValueError(f"{fn}: gamma must be in (0, 1], got {gamma!r}")
    check.choice(fn, "mode", mode, CYCLIC_MODES)
    check.choice(fn, "scale_mode", scale_mode, ("cycle", "iterations"))
    if scale_fn is None:
        scale_mode = "iterations" if mode == "exp_range" else "cycle"
    else:
        traceable(fn, "scale_fn", scale_fn)
    cycle_momentum = check.boolean(fn, "cycle_momentum", cycle_momentum)
    m_lo = check.unit(fn, "base_momentum", base_momentum)
    m_hi = check.unit(fn, "max_momentum", max_momentum)
    check.ordered(fn, "base_momentum", m_lo, "max_momentum", m_hi)
    log_g = math.log(g)

    def position(k: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """``(scale, 1 - scale, f, 1 - f)``: torch's ``x = 1 + k/T - cycle`` is
        ``(k mod T) / T`` exactly, so ``scale`` is ``j / up`` rising and ``(T - j) / down``
        falling, each a quotient of integers, as is its complement."""
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


def one_cycle_phases(total: int, pct: float, three_phase: bool, initial: float, peak: float,
                     floor: float, m_lo: float, m_hi: float) -> list[tuple]:
    """torch's ``_schedule_phases``: (end_step, start_lr, end_lr, start_mom, end_mom)."""
    if three_phase:
        return [(float(pct * total) - 1, initial, peak, m_hi, m_lo),
                (float(2 * pct * total) - 2, peak, initial, m_lo, m_hi),
                (total - 1, initial, floor, m_hi, m_hi)]
    return [(float(pct * total) - 1, initial, peak, m_hi, m_lo),
            (total - 1, peak, floor, m_lo, m_hi)]


def one_cycle_lr(
    max_lr: float,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    cycle_momentum: bool = True,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """torch's OneCycleLR: warm up to ``max_lr``, then anneal to ``max_lr / div / final_div``.

    ``N = total_steps`` (or ``epochs * steps_per_epoch``). Phases end at ``pct*N - 1`` and
    ``N - 1`` (three-phase: ``pct*N - 1``, ``2*pct*N - 2``, ``N - 1``), as floats, exactly as
    torch sets them; step ``k`` is in the first phase whose end it does not pass (an integer
    test against the floored end), with ``pct = (k - start) / (end - start)`` and cosine
    (``end + (start - end) / 2 * (cos(pi * pct) + 1)``) or linear annealing. Momentum runs
    ``max_momentum -> base_momentum -> max_momentum``.

    Each anneal is computed from the phase weights ``p`` and ``1 - p`` (each an exact
    integer difference plus the fractional part of torch's float phase end, over the width):
    ``start (1 - p) + end p`` (linear) or, for cos, the larger endpoint's weight as
    ``sin(pi d / 2)**2`` of its own distance ``d`` and the smaller's as one minus that (one
    sine per step; float32, whose tolerance is of the peak, uses ``(1 + cos(pi p)) / 2``):
    a weighted sum of non-negative terms. It is within a few ulps of the exact value of
    torch's formula; torch's ``(end - start) * pct + start`` depends on whether the
    multiply-add is fused (1e-9 relative, measured) and its cosine cancels near a small end.
    Step ``N``'s extrapolated value is computed exactly on the host (for a last phase a
    fraction of a step wide, torch's ``pct`` there is in the tens of thousands).

    torch quirks and choices: the lr starts at ``max_lr / div_factor`` whatever the
    optimizer's lr; step ``N`` is allowed and extrapolates the last phase one step past its end
    (with linear annealing that can be below ``min_lr``, even negative); torch raises on the
    step after (the adapter ``jaxsched.OneCycleLR`` raises the same ``ValueError``), while
    this function returns the final ``min_lr`` / ``max_momentum`` for every ``k > N``.
    Configurations torch cannot step through raise here, eagerly: a first phase of zero
    length (``pct * N == 1``) and a last phase of zero length (``pct_start=1.0``, or
    three-phase with ``2 pct N - 2 == N - 1``), where torch divides by zero at a step.

    Args:
        max_lr: the peak lr, >= 0.
        total_steps: steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: with ``steps_per_epoch``, ``total_steps = epochs * steps_per_epoch``.
        steps_per_epoch: see ``epochs``.
        pct_start: fraction of the cycle spent rising, in [0, 1].
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: whether the schedule has a ``momentum`` curve.
        base_momentum: momentum at the peak lr, in [0, 1].
        max_momentum: momentum at the ends, in [0, 1].
        div_factor: ``initial_lr = max_lr / div_factor``, >= 1 (torch accepts any value;
            below 1 the warmup would go down).
        final_div_factor: ``min_lr = initial_lr / final_div_factor``, >= 1 (torch accepts
            any value; below 1 the final lr would exceed the initial).
        three_phase: use torch's three-phase variant.

    Returns:
        A ``Schedule``, with ``momentum`` when ``cycle_momentum``.

    Raises:
        TypeError, ValueError: on bad arguments; without ``total_steps`` nor both
            ``epochs`` and ``steps_per_epoch``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.one_cycle_lr(1.0, total_steps=5, pct_start=0.4,
        ...                           anneal_strategy="linear", div_factor=4.0,
        ...                           final_div_factor=2.5)
        >>> [round(float(s(k)), 6) for k in range(6)]
        [0.25, 1.0, 0.7, 0.4, 0.1, -0.2]

    Matches ``torch.optim.lr_scheduler.OneCycleLR`` of torch 2.13.0.
    """
    fn = "jaxsched.one_cycle_lr"
    peak = check.nonneg(fn, "max_lr", max_lr)
    if total_steps is not None:
        total = check.integer(fn, "total_steps", total_steps, minimum=1)
    elif epochs is not None and steps_per_epoch is not None:
        e = check.integer(fn, "epochs", epochs, minimum=1)
        spe = check.integer(fn, "steps_per_epoch", steps_per_epoch, minimum=1)
        total = check.integer(fn, "epochs * steps_per_epoch", e * spe, minimum=1)
    else:
        raise ValueError(f"{fn}: you must define either total_steps OR (epochs AND "
                         f"steps_per_epoch), got total_steps={total_steps!r}, "
                         f"epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}")
    pct = check.unit(fn, "pct_start", pct_start)
    check.choice(fn, "anneal_strategy", anneal_strategy, ("cos", "linear"))
    cycle_momentum = check.boolean(fn, "cycle_momentum", cycle_momentum)
    m_lo = check.unit(fn, "base_momentum", base_momentum)
    m_hi = check.unit(fn, "max_momentum", max_momentum)
    check.ordered(fn, "base_momentum", m_lo, "max_momentum", m_hi)
    three_phase = check.boolean(fn, "three_phase", three_phase)
    div = check.real(fn, "div_factor", div_factor)
    final_div = check.real(fn, "final_div_factor", final_div_factor)
    for name, value in (("div_factor", div), ("final_div_factor", final_div)):
        if value < 1:
            raise ValueError(f"{fn}: {name} must be >= 1, got {value!r} (below 1 the "
                             f"{'initial' if name == 'div_factor' else 'final'} lr would "
                             f"exceed the {'peak' if name == 'div_factor' else 'initial'} "
                             f"lr; torch accepts it silently)")
    initial = peak / div
    floor = initial / final_div
    phases = one_cycle_phases(total, pct, three_phase, initial, peak, floor, m_lo, m_hi)
    if phases[0][0] == 0.0:
        raise ValueError(f"{fn}: pct_start * total_steps must not be 1 (the warmup phase would "
                         f"have zero length; torch divides by zero), got pct_start={pct!r}, "
                         f"total_steps={total}")
    if phases[-1][0] == phases[-2][0] and math.floor(phases[-2][0]) < total:
        raise ValueError(f"{fn}: the last phase would have zero length, so torch divides by "
                         f"zero at step {total} (pct_start={pct!r}, three_phase="
                         f"{bool(three_phase)!r}, total_steps={total}); use pct_start < "
                         f"{1.0 if not three_phase else (total + 1) / (2 * total)!r}")

    # Per-phase constants, selected by the phase index, so one anneal is evaluated per step.
    # Each float phase end e is split on the host into floor(e) and e - floor(e), so that
    # k - start and end - k are an exact integer difference plus a fraction: the phase
    # weights p and 1 - p are then accurate in float32 too, at any count.
    starts = [0.0] + [ph[0] for ph in phases[:-1]]
    thresholds = [math.floor(ph[0]) for ph in phases[:-1]]

    def split(values: list[float]) -> tuple[list[int], list[float], list[float]]:
        """``v = i + hi + lo``: the integer part, and the fraction as a float32 ``hi`` plus
        the rest (0 in float64), so a phase a fraction of a step wide keeps its width's
        precision in float32 too."""
        ints = [math.floor(v) for v in values]
        fracs = [v - i for v, i in zip(values, ints, strict=True)]
        his = fracs if is_x64() else [float(np.float32(f)) for f in fracs]
        return ints, his, [f - h for f, h in zip(fracs, his, strict=True)]

    start_int, start_hi, start_lo = split(starts)
    end_int, end_hi, end_lo = split([ph[0] for ph in phases])
    widths = [ph[0] - st for ph, st in zip(phases, starts, strict=True)]

    last = sum(1 for t in thresholds if total > t)  # the phase step N falls in

    def extrapolated(a: float, b: float) -> float:
        """The anneal at step ``N`` (usually one step past the last phase's end), exactly:
        there ``pct = 1 + 1 / width`` can be huge (a last phase a fraction of a step wide),
        and no float evaluation of the cosine keeps its phase."""
        frac = (Fraction(total) - Fraction(starts[last])) / (Fraction(phases[last][0])
                                                             - Fraction(starts[last]))
        with mpmath.workdps(40):
            pct = mpmath.mpf(frac.numerator) / frac.denominator
            a_, b_ = mpmath.mpf(a), mpmath.mpf(b)
            if anneal_strategy == "cos":
                return float(b_ + (a_ - b_) / 2 * (mpmath.cospi(pct) + 1))
            return float((b_ - a_) * pct + a_)

    at_total = (extrapolated(phases[last][1], phases[last][2]),
                extrapolated(phases[last][3], phases[last][4]))

    def curve(k: jax.Array, lr_values: bool) -> jax.Array:
        i = sum((k > t).astype(jnp.int32) for t in thresholds) if thresholds else 0

        def pick(values: list[Any]) -> jax.Array:
            return jnp.asarray(values, float_dtype())[i]

        kk = jnp.minimum(k, total)
        width = pick(widths)
        done = ((to_float(kk - jnp.asarray(start_int, k.dtype)[i]) - pick(start_hi))
                - pick(start_lo)) / width
        left = 1.0 - done if not is_x64() else ((
            to_float(jnp.asarray(end_int, k.dtype)[i] - kk) + pick(end_hi)) + pick(end_lo)) / width
        a, b = (1, 2) if lr_values else (3, 4)
        start, end = pick([ph[a] for ph in phases]), pick([ph[b] for ph in phases])
        if anneal_strategy == "cos" and not is_x64():  # float32's tolerance is of the peak
            w_start = 0.5 + 0.5 * jnp.sin((math.pi / 2) - math.pi * done)
            w_end = 1.0 - w_start
        elif anneal_strategy == "cos":
            # (1 + cos(pi p)) / 2 = sin(pi (1 - p) / 2)**2: the larger endpoint's weight from
            # its own distance, the smaller's as 1 - that (an error of an ulp of the smaller
            # endpoint, below an ulp of the value): one sine per step
            start_big = jnp.asarray([ph[a] >= ph[b] for ph in phases])[i]
            s = jnp.sin((math.pi / 2) * jnp.where(start_big, left, done))
            w_big = s * s
            w_start = jnp.where(start_big, w_big, 1.0 - w_big)
            w_end = jnp.where(start_big, 1.0 - w_big, w_big)
        else:
            w_start, w_end = left, done
        value = mix(start, w_start, end, w_end)
        value = jnp.where(k == total, at_total[0 if lr_values else 1], value)
        return jnp.where(k > total, floor if lr_values else m_hi, value)

    params = dict(max_lr=peak, total_steps=total, pct_start=pct,
                  anneal_strategy=anneal_strategy, cycle_momentum=cycle_momentum,
                  base_momentum=m_lo, max_momentum=m_hi, div_factor=div,
                  final_div_factor=final_div, three_phase=bool(three_phase))
    momentum = (Schedule(lambda k: curve(k, False), name=fn + ".momentum", params=params)
                if cycle_momentum else None)
    return Schedule(lambda k: curve(k, True), momentum=momentum, name=fn, params=params)
