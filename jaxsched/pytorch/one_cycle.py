"""torch's OneCycleLR (torch 2.13) as a pure schedule: phase ends floored as torch floors
them, positions within a phase as quotients of integers, the cosine annealing as ``sin**2``
of the distance to its low point; the momentum (or Adam's beta1) cycles inversely."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.exact import (
    float_dtype,
    is_x64,
    mix,
    to_float,
)
from jaxsched.core.schedule import Schedule, schedule_factory

__all__ = ["one_cycle_lr", "one_cycle_phases"]


def one_cycle_phases(total: int, pct: float, three_phase: bool, initial: float, peak: float,
                     floor: float, m_lo: float, m_hi: float) -> list[tuple]:
    """torch's ``_schedule_phases``: (end_step, start_lr, end_lr, start_mom, end_mom)."""
    if three_phase:
        return [(float(pct * total) - 1, initial, peak, m_hi, m_lo),
                (float(2 * pct * total) - 2, peak, initial, m_lo, m_hi),
                (total - 1, initial, floor, m_hi, m_hi)]
    return [(float(pct * total) - 1, initial, peak, m_hi, m_lo),
            (total - 1, peak, floor, m_lo, m_hi)]


@schedule_factory
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
        base_momentum: momentum at the peak lr, a finite real (as torch, values outside
            [0, 1] or above ``max_momentum`` are taken as given).
        max_momentum: momentum at the ends, a finite real.
        div_factor: ``initial_lr = max_lr / div_factor``, nonzero (below 1 the warmup goes
            down, as torch's does; a negative factor, which gives negative lrs, warns).
        final_div_factor: ``min_lr = initial_lr / final_div_factor``, nonzero (likewise).
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
        total = check.phase(fn, "total_steps", total_steps)
    elif epochs is not None and steps_per_epoch is not None:
        e = check.phase(fn, "epochs", epochs)
        spe = check.phase(fn, "steps_per_epoch", steps_per_epoch)
        total = check.phase(fn, "epochs * steps_per_epoch", e * spe)
    else:
        raise ValueError(f"{fn}: you must define either total_steps OR (epochs AND "
                         f"steps_per_epoch), got total_steps={total_steps!r}, "
                         f"epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}")
    pct = check.unit(fn, "pct_start", pct_start)
    check.choice(fn, "anneal_strategy", anneal_strategy, ("cos", "linear"))
    cycle_momentum = check.boolean(fn, "cycle_momentum", cycle_momentum)
    m_lo = check.real(fn, "base_momentum", base_momentum)
    m_hi = check.real(fn, "max_momentum", max_momentum)
    three_phase = check.boolean(fn, "three_phase", three_phase)
    div = check.real(fn, "div_factor", div_factor)
    final_div = check.real(fn, "final_div_factor", final_div_factor)
    for name, value in (("div_factor", div), ("final_div_factor", final_div)):
        if value == 0:
            raise ValueError(f"{fn}: {name} must be nonzero (torch divides by it), got "
                             f"{value!r}")
        if value < 0:
            warnings.warn(f"{fn}: {name}={value!r} is negative, so the schedule's lrs are "
                          f"negative (as in torch)", UserWarning, stacklevel=2)
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
        check.reachable(fn, "total_steps", total, k)
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
