"""DeepSpeed's five schedules (``deepspeed.runtime.lr_schedules``, 0.19.8) as pure functions:
LRRangeTest and OneCycle here, WarmupLR / WarmupDecayLR / WarmupCosineLR in ``warmup``.

The step convention: DeepSpeed's constructor writes a value without stepping, so at training
step ``k`` its formulas see ``last_batch_iteration = k - 1``; the value written at construction
is the one in force at step 0. Positions in a cycle, floors and remaining steps are computed on
the integer count; floats enter only as quotients of integers (``jaxsched.exact``), so every
value is within a few ulps of the exact value of DeepSpeed's formula at any count, in float64
and float32, also where DeepSpeed itself is not (its ``(1 + k/T) - floor(1 + k/T)`` cycle
position loses the low bits of ``k/T``; its cosine near a zero floor loses relative accuracy).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, idiv, imod, is_x64, mix, to_float, two_prod_err
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.deepspeed.warmup import signed_lr, warmup_cosine_lr, warmup_decay_lr, warmup_lr

__all__ = ["lr_range_test", "one_cycle", "warmup_cosine_lr", "warmup_decay_lr", "warmup_lr"]


@schedule_factory
def lr_range_test(
    lr_range_test_min_lr: float = 1e-3,
    lr_range_test_step_size: int = 2000,
    lr_range_test_step_rate: float = 1.0,
    lr_range_test_staircase: bool = False,
) -> Schedule:
    """DeepSpeed's LR range test: a linear (or staircase) climb from ``min_lr``.

    ``lr(k) = min_lr * (1 + step_rate * interval)``, with ``interval = k / step_size``, or
    ``floor(k / step_size)`` (exact integer division) when ``staircase``.

    Args:
        lr_range_test_min_lr: lr at step 0 (any finite real, as in DeepSpeed; a negative
            one, whose lrs grow ever more negative, warns).
        lr_range_test_step_size: steps per unit of ``interval``, a positive integer.
        lr_range_test_step_rate: growth per ``step_size`` steps, >= 0.
        lr_range_test_staircase: hold the lr flat within each ``step_size`` steps.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on a non-finite or non-integer argument, a negative step
            size or rate.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.lr_range_test(0.01, lr_range_test_step_size=10)
        >>> [round(float(s(k)), 6) for k in (0, 5, 10)]
        [0.01, 0.015, 0.02]

    Matches ``deepspeed.runtime.lr_schedules.LRRangeTest`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.lr_range_test"
    min_lr = signed_lr(fn, "lr_range_test_min_lr", lr_range_test_min_lr)
    size = check.phase(fn, "lr_range_test_step_size", lr_range_test_step_size)
    rate = check.nonneg(fn, "lr_range_test_step_rate", lr_range_test_step_rate)
    staircase = check.boolean(fn, "lr_range_test_staircase", lr_range_test_staircase)
    check.finite_at_end(fn, "lr_range_test_min_lr * (1 + lr_range_test_step_rate * k / "
                        "lr_range_test_step_size)",
                        abs(min_lr) * (1 + rate * check.MAX_COUNT / size))

    def lr(k: jax.Array) -> jax.Array:
        check.reachable(fn, "lr_range_test_step_size", size, k)
        interval = to_float(idiv(k, size)) if staircase else divide(k, size)
        return min_lr * (1 + rate * interval)

    return Schedule(lr, name=fn, params=dict(
        lr_range_test_min_lr=min_lr, lr_range_test_step_size=size,
        lr_range_test_step_rate=rate, lr_range_test_staircase=staircase))


@schedule_factory
def one_cycle(
    cycle_min_lr: float,
    cycle_max_lr: float,
    decay_lr_rate: float = 0.0,
    cycle_first_step_size: int = 2000,
    cycle_second_step_size: int | None = None,
    cycle_first_stair_count: int = 0,
    cycle_second_stair_count: int | None = None,
    decay_step_size: int = 0,
    cycle_momentum: bool = True,
    cycle_min_mom: float = 0.8,
    cycle_max_mom: float = 0.9,
    decay_mom_rate: float = 0.0,
) -> Schedule:
    """DeepSpeed's 1Cycle: one triangular cycle of lr (and inverse momentum), then decay.

    With ``S1, S2`` the half-cycle lengths and ``T = S1 + S2``, for ``k <= T`` (the cycle):
    ``x = (1 + k/T) - cycle`` with ``cycle = 1 + k // T``; ``scale = x / (S1/T)`` on the way
    up (``k mod T <= S1``), ``(x - 1) / (S1/T - 1)`` on the way down, or, with a stair count
    ``c`` for that half, ``floor(j * c / S) / c`` where ``j`` is the integer offset into it
    (computed exactly as ``j / S1`` and ``(T - j) / S2``: DeepSpeed's float ``x`` cancels
    and is up to 5e-4 of the peak off in float32 for long cycles);
    ``lr = min_lr + (max_lr - min_lr) * scale`` and ``mom = max_mom - (max_mom - min_mom) *
    scale``. For ``k > T`` (the decay, continuous, never floored): ``i = (k - T) /
    decay_step_size``, ``lr = min_lr / (1 + decay_lr_rate * i)`` and
    ``mom = max_mom * (1 + decay_mom_rate * i)``.

    DeepSpeed quirks reproduced:

    * at step 0 the momentum is ``cycle_min_mom`` (the constructor writes the *min*), while the
      cycle formula at ``k = 0`` gives ``cycle_max_mom``; from step 1 on the formula holds.
    * ``k = T`` is still in the cycle and gives ``min_lr`` (scale 0); decay starts at ``T+1``.
    * decay is skipped (lr stays ``min_lr``, momentum ``max_mom``) when ``decay_step_size`` is
      0, or when the respective rate is exactly 0.
    * the decay phase *multiplies* momentum by ``1 + decay_mom_rate * i``: with a positive
      ``decay_mom_rate`` it grows without bound (past 1), exactly as DeepSpeed does.
    * DeepSpeed cycles momentum only on optimizers with ``betas`` and writes it as
      ``betas = (mom, 0.99)``, overwriting beta2 with 0.99 (the adapter ``jaxsched.OneCycle``
      does the same); this function's ``momentum`` is the beta1 curve.
    * stair counts take effect (they were ignored before DeepSpeed 0.19.4).

    Args:
        cycle_min_lr: lr at the start and end of the cycle (any finite real, as in
            DeepSpeed; a negative one warns).
        cycle_max_lr: lr at the peak (below ``cycle_min_lr``, the cycle dips, as in
            DeepSpeed).
        decay_lr_rate: lr decay rate after the cycle; a negative one (DeepSpeed takes it as
            it is) makes the decayed lr grow to a pole at ``i = -1 / decay_lr_rate`` and
            turn negative past it, and warns; one whose pole DeepSpeed lands on exactly (a
            division by zero there) is refused.
        cycle_first_step_size: steps of the rising half, a positive integer.
        cycle_second_step_size: steps of the falling half, >= 0; ``None`` means
            ``cycle_first_step_size``.
        cycle_first_stair_count: stairs in the rising half; 0 is continuous.
        cycle_second_stair_count: stairs in the falling half; ``None`` means the first's.
        decay_step_size: steps per unit of decay interval; 0 disables decay.
        cycle_momentum: whether the schedule has a ``momentum`` curve.
        cycle_min_mom: momentum at the peak lr (any finite real, as DeepSpeed takes it).
        cycle_max_mom: momentum at the cycle's ends (any finite real).
        decay_mom_rate: momentum growth rate after the cycle, >= 0.

    Returns:
        A ``Schedule``; its ``momentum`` is the beta1 curve when ``cycle_momentum``.

    Raises:
        TypeError, ValueError: on non-finite, negative or non-integer arguments,
            or a stair count whose ``count * step_size`` exceeds 2**53-1 (without x64,
            evaluating at an int32 count raises once a phase or ``count * step_size``
            passes 2**31-1).

    Example:
        >>> import jaxsched
        >>> s = jaxsched.one_cycle(0.1, 1.0, cycle_first_step_size=2)
        >>> [round(float(s(k)), 6) for k in (0, 1, 2, 3, 4, 5)]
        [0.1, 0.55, 1.0, 0.55, 0.1, 0.1]
        >>> [round(float(s.momentum(k)), 6) for k in (0, 1, 2, 4)]
        [0.8, 0.85, 0.8, 0.9]

    Matches ``deepspeed.runtime.lr_schedules.OneCycle`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.one_cycle"
    min_lr = signed_lr(fn, "cycle_min_lr", cycle_min_lr)
    max_lr = signed_lr(fn, "cycle_max_lr", cycle_max_lr)
    lr_rate = check.real(fn, "decay_lr_rate", decay_lr_rate)
    s1 = check.phase(fn, "cycle_first_step_size", cycle_first_step_size)
    s2 = s1 if cycle_second_step_size is None else check.phase(
        fn, "cycle_second_step_size", cycle_second_step_size, minimum=0)
    total = check.phase(fn, "cycle_first_step_size + cycle_second_step_size", s1 + s2)
    c1 = check.phase(fn, "cycle_first_stair_count", cycle_first_stair_count, minimum=0)
    c2 = c1 if cycle_second_stair_count is None else check.phase(
        fn, "cycle_second_stair_count", cycle_second_stair_count, minimum=0)
    # a stair count c floors j c / S in integers: j c <= S c must fit the count's dtype
    ends = {"cycle_first_step_size + cycle_second_step_size": total,
            "cycle_first_stair_count * cycle_first_step_size": c1 * s1,
            "cycle_second_stair_count * cycle_second_step_size": c2 * s2}
    for name, end in ends.items():
        check.integer(fn, name, end, minimum=0, maximum=check.MAX_EXACT)
    last = max(ends.items(), key=lambda kv: kv[1])
    decay_size = check.phase(fn, "decay_step_size", decay_step_size, minimum=0)
    cycle_momentum = check.boolean(fn, "cycle_momentum", cycle_momentum)
    min_mom = check.real(fn, "cycle_min_mom", cycle_min_mom)
    max_mom = check.real(fn, "cycle_max_mom", cycle_max_mom)
    mom_rate = check.nonneg(fn, "decay_mom_rate", decay_mom_rate)
    check.finite_at_end(fn, "the momentum cycle_max_mom * (1 + decay_mom_rate * i)",
                        abs(max_mom) * (1 + mom_rate * check.MAX_COUNT / max(decay_size, 1)))
    if lr_rate < 0 and decay_size > 0:
        _pole(fn, lr_rate, decay_size, check.MAX_COUNT - total)

    def weights(k: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(scale, 1 - scale)``, each one quotient of integers: DeepSpeed's
        ``x = (1 + k/T) - floor(1 + k/T)`` is ``(k mod T) / T`` exactly, its rising
        ``x / (S1/T)`` is ``j / S1`` and its falling ``(x - 1) / (S1/T - 1)`` is
        ``(T - j) / S2``; a stair count ``c`` floors ``j c / S`` in integers."""
        check.reachable(fn, last[0], last[1], k)
        j = imod(jnp.minimum(k, total), total)  # the cycle formula only serves k <= total
        up = j <= s1
        num = jnp.where(up, j, total - j)
        den = jnp.where(up, s1, max(s2, 1))
        stairs = jnp.where(up, c1, c2)
        stair_num = idiv(num * stairs, den)  # j * c <= S * c: within the dtype (checked)
        num = jnp.where(stairs > 0, stair_num, num)
        den = jnp.where(stairs > 0, stairs, den)
        return divide(num, den), divide(den - num, den)

    def decay_interval(k: jax.Array) -> jax.Array:
        return divide(jnp.maximum(k - total, 0), max(decay_size, 1))

    skip_lr_decay = decay_size == 0 or lr_rate == 0.0
    skip_mom_decay = decay_size == 0 or mom_rate == 0.0

    def lr(k: jax.Array) -> jax.Array:
        scale, rest = weights(k)
        cycle_lr = mix(min_lr, rest, max_lr, scale)
        if skip_lr_decay:
            decay_lr = min_lr
        elif lr_rate < 0:  # 1 + rate * i cancels near its pole: from its exact parts
            decay_lr = min_lr / _one_plus(lr_rate, jnp.maximum(k - total, 0), decay_size)
        else:
            decay_lr = min_lr / (1 + lr_rate * decay_interval(k))
        return jnp.where(k <= total, cycle_lr, decay_lr)

    def mom(k: jax.Array) -> jax.Array:
        scale, rest = weights(k)
        cycle_mom = mix(max_mom, rest, min_mom, scale)
        decay_mom = max_mom if skip_mom_decay else max_mom * (1 + mom_rate * decay_interval(k))
        in_force = jnp.where(k <= total, cycle_mom, decay_mom)
        return jnp.where(k == 0, min_mom, in_force)

    params = dict(
        cycle_min_lr=min_lr, cycle_max_lr=max_lr, decay_lr_rate=lr_rate,
        cycle_first_step_size=s1, cycle_second_step_size=s2, cycle_first_stair_count=c1,
        cycle_second_stair_count=c2, decay_step_size=decay_size, cycle_momentum=cycle_momentum,
        cycle_min_mom=min_mom, cycle_max_mom=max_mom, decay_mom_rate=mom_rate)
    momentum = Schedule(mom, name=fn + ".momentum", params=params) if cycle_momentum else None
    return Schedule(lr, momentum=momentum, name=fn, params=params)


def _pole(fn: str, rate: float, size: int, last: int) -> None:
    """Refuses a negative ``decay_lr_rate`` whose ``1 + rate * (n / size)`` DeepSpeed
    computes as exactly 0 at a decay step ``n`` in [1, ``last``] (it divides by zero there);
    warns once otherwise (the lr passes a pole and turns negative)."""
    guess = round(-size / rate)
    for n in range(max(1, guess - 2), min(last, guess + 2) + 1):
        if 1 + rate * (n / size) == 0.0:
            raise ValueError(f"{fn}: decay_lr_rate={rate!r} with decay_step_size={size} makes "
                             f"DeepSpeed's decay factor 1 + decay_lr_rate * {n} / {size} "
                             f"exactly 0 (it divides by zero {n} steps after the cycle)")
    warnings.warn(f"{fn}: decay_lr_rate={rate!r} is negative: the decayed lr grows to a pole "
                  f"about {-size / rate:.6g} steps after the cycle and turns negative past "
                  f"it, as in DeepSpeed", UserWarning, stacklevel=4)


def _one_plus(rate: float, n: jax.Array, size: int) -> jax.Array:
    """``1 + rate * n / size`` for an integer array ``n >= 0``, accurate where it cancels:
    ``n / size`` and ``rate`` each as an unevaluated sum of two floats, their product with
    its exact rounding error (``two_prod_err``), so the sum is within a few ulps of its
    exact value near 0 too (float32 included, for ``n < 2**24``)."""
    dtype = jnp.float64 if is_x64() else jnp.float32
    split = 134217729.0 if is_x64() else 4097.0  # Veltkamp: 2**27 + 1, 2**12 + 1
    r_hi = np.asarray(rate, dtype)
    r_lo = jnp.asarray(rate - float(r_hi), dtype)
    r_hi = jnp.asarray(r_hi)
    x = to_float(n)
    d = jnp.asarray(size, dtype)
    hi = divide(n, size)
    p = hi * d
    lo = ((x - p) - two_prod_err(hi, d, p, split)) / d  # n / size - hi
    prod = r_hi * hi
    err = two_prod_err(r_hi, hi, prod, split) + r_hi * lo + r_lo * hi
    return (1.0 + prod) + err
