"""DeepSpeed's five schedules (``deepspeed.runtime.lr_schedules``, 0.19.8) as pure functions.

The step convention: DeepSpeed's constructor writes a value without stepping, so at training
step ``k`` its formulas see ``last_batch_iteration = k - 1``; the value written at construction
is the one in force at step 0. Positions in a cycle, floors and remaining steps are computed on
the integer count; floats enter only as quotients of integers (``jaxsched.exact``), so every
value is within a few ulps of the exact value of DeepSpeed's formula at any count, in float64
and float32, also where DeepSpeed itself is not (its ``(1 + k/T) - floor(1 + k/T)`` cycle
position loses the low bits of ``k/T``; its cosine near a zero floor loses relative accuracy).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, idiv, imod, mix, to_float
from jaxsched.core.schedule import Schedule

__all__ = ["lr_range_test", "one_cycle", "warmup_cosine_lr", "warmup_decay_lr", "warmup_lr"]

WARMUP_TYPES = ("log", "linear")


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
        lr_range_test_min_lr: lr at step 0, >= 0.
        lr_range_test_step_size: steps per unit of ``interval``, a positive integer.
        lr_range_test_step_rate: growth per ``step_size`` steps, >= 0.
        lr_range_test_staircase: hold the lr flat within each ``step_size`` steps.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on a non-finite, negative or non-integer argument.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.lr_range_test(0.01, lr_range_test_step_size=10)
        >>> [round(float(s(k)), 6) for k in (0, 5, 10)]
        [0.01, 0.015, 0.02]

    Matches ``deepspeed.runtime.lr_schedules.LRRangeTest`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.lr_range_test"
    min_lr = check.nonneg(fn, "lr_range_test_min_lr", lr_range_test_min_lr)
    size = check.integer(fn, "lr_range_test_step_size", lr_range_test_step_size, minimum=1)
    rate = check.nonneg(fn, "lr_range_test_step_rate", lr_range_test_step_rate)
    staircase = check.boolean(fn, "lr_range_test_staircase", lr_range_test_staircase)
    check.finite_at_end(fn, "lr_range_test_min_lr * (1 + lr_range_test_step_rate * k / "
                        "lr_range_test_step_size)", min_lr * (1 + rate * check.MAX_COUNT / size))

    def lr(k: jax.Array) -> jax.Array:
        interval = to_float(idiv(k, size)) if staircase else divide(k, size)
        return min_lr * (1 + rate * interval)

    return Schedule(lr, name=fn, params=dict(
        lr_range_test_min_lr=min_lr, lr_range_test_step_size=size,
        lr_range_test_step_rate=rate, lr_range_test_staircase=staircase))


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
        cycle_min_lr: lr at the start and end of the cycle, >= 0.
        cycle_max_lr: lr at the peak, ``>= cycle_min_lr``.
        decay_lr_rate: lr decay rate after the cycle, >= 0.
        cycle_first_step_size: steps of the rising half, a positive integer.
        cycle_second_step_size: steps of the falling half, >= 0; ``None`` means
            ``cycle_first_step_size``.
        cycle_first_stair_count: stairs in the rising half; 0 is continuous.
        cycle_second_stair_count: stairs in the falling half; ``None`` means the first's.
        decay_step_size: steps per unit of decay interval; 0 disables decay.
        cycle_momentum: whether the schedule has a ``momentum`` curve.
        cycle_min_mom: momentum at the peak lr, in [0, 1].
        cycle_max_mom: momentum at the cycle's ends, in [``cycle_min_mom``, 1].
        decay_mom_rate: momentum growth rate after the cycle, >= 0.

    Returns:
        A ``Schedule``; its ``momentum`` is the beta1 curve when ``cycle_momentum``.

    Raises:
        TypeError, ValueError: on non-finite, negative, non-integer or misordered arguments,
            or a stair count whose ``count * step_size`` exceeds 2**31-1.

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
    min_lr = check.nonneg(fn, "cycle_min_lr", cycle_min_lr)
    max_lr = check.nonneg(fn, "cycle_max_lr", cycle_max_lr)
    check.ordered(fn, "cycle_min_lr", min_lr, "cycle_max_lr", max_lr)
    lr_rate = check.nonneg(fn, "decay_lr_rate", decay_lr_rate)
    s1 = check.integer(fn, "cycle_first_step_size", cycle_first_step_size, minimum=1)
    s2 = s1 if cycle_second_step_size is None else check.integer(
        fn, "cycle_second_step_size", cycle_second_step_size, minimum=0)
    total = check.integer(fn, "cycle_first_step_size + cycle_second_step_size", s1 + s2,
                          minimum=1)
    c1 = check.integer(fn, "cycle_first_stair_count", cycle_first_stair_count, minimum=0,
                       maximum=check.MAX_COUNT // s1)
    c2 = c1 if cycle_second_stair_count is None else check.integer(
        fn, "cycle_second_stair_count", cycle_second_stair_count, minimum=0,
        maximum=check.MAX_COUNT // max(s2, 1))
    decay_size = check.integer(fn, "decay_step_size", decay_step_size, minimum=0)
    cycle_momentum = check.boolean(fn, "cycle_momentum", cycle_momentum)
    min_mom = check.unit(fn, "cycle_min_mom", cycle_min_mom)
    max_mom = check.unit(fn, "cycle_max_mom", cycle_max_mom)
    check.ordered(fn, "cycle_min_mom", min_mom, "cycle_max_mom", max_mom)
    mom_rate = check.nonneg(fn, "decay_mom_rate", decay_mom_rate)
    check.finite_at_end(fn, "the momentum cycle_max_mom * (1 + decay_mom_rate * i)",
                        max_mom * (1 + mom_rate * check.MAX_COUNT / max(decay_size, 1)))

    def weights(k: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(scale, 1 - scale)``, each one quotient of integers: DeepSpeed's
        ``x = (1 + k/T) - floor(1 + k/T)`` is ``(k mod T) / T`` exactly, its rising
        ``x / (S1/T)`` is ``j / S1`` and its falling ``(x - 1) / (S1/T - 1)`` is
        ``(T - j) / S2``; a stair count ``c`` floors ``j c / S`` in integers."""
        j = imod(jnp.minimum(k, total), total)  # the cycle formula only serves k <= total
        up = j <= s1
        num = jnp.where(up, j, total - j)
        den = jnp.where(up, s1, max(s2, 1))
        stairs = jnp.where(up, c1, c2)
        stair_num = idiv(num * stairs, den)  # j * c <= S * c <= 2**31-1 (validated)
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
        decay_lr = min_lr if skip_lr_decay else min_lr / (1 + lr_rate * decay_interval(k))
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


def _warmup_checks(fn: str, warmup_num_steps: int, warmup_type: str) -> int:
    check.integer(fn, "warmup_num_steps", warmup_num_steps, minimum=1)
    check.choice(fn, "warmup_type", warmup_type, WARMUP_TYPES)
    return max(2, int(warmup_num_steps))


def _warmup_fraction(k: jax.Array, n: int, warmup_type: str) -> jax.Array:
    """DeepSpeed's warmup gamma at ``last_batch_iteration = k - 1`` (for ``1 <= k <= n``)."""
    if warmup_type == "log":
        return (1.0 / math.log(n)) * jnp.log(to_float(jnp.maximum(k, 1)))
    return divide(jnp.maximum(k, 1) - 1, n)


def _max_lr(fn: str, warmup_max_lr: float | None, lr: float | None) -> float:
    if warmup_max_lr is None:
        if lr is None:
            raise TypeError(
                f"{fn}: warmup_max_lr=None inherits the optimizer's lr, so lr= is required, "
                f"got warmup_max_lr={warmup_max_lr!r}, lr={lr!r}")
        return check.nonneg(fn, "lr", lr)
    return check.nonneg(fn, "warmup_max_lr", warmup_max_lr)


def warmup_lr(
    warmup_min_lr: float = 0.0,
    warmup_max_lr: float | None = None,
    warmup_num_steps: int = 1000,
    warmup_type: str = "log",
    *,
    lr: float | None = None,
) -> Schedule:
    """DeepSpeed's WarmupLR: log or linear warmup from ``min_lr`` to ``max_lr``, then hold.

    With ``n = max(2, warmup_num_steps)`` and ``i = k - 1`` (DeepSpeed's
    ``last_batch_iteration``): ``lr(0) = min_lr``; for ``0 <= i < n``,
    ``lr = min_lr + (max_lr - min_lr) * g`` with ``g = log(i + 1) / log(n)`` (log) or
    ``g = i / n`` (linear); after that ``lr = max_lr``.

    DeepSpeed quirks reproduced: ``min_lr`` serves two updates (steps 0 and 1, since
    ``log(1) = 0`` and ``0 / n = 0``); ``warmup_num_steps`` of 1 acts as 2; with linear
    warmup ``max_lr`` is first reached at step ``n + 1``. An unknown ``warmup_type``, which
    DeepSpeed only warns about before falling back to log, raises here.

    Args:
        warmup_min_lr: lr at steps 0 and 1, >= 0.
        warmup_max_lr: lr after warmup, ``>= warmup_min_lr``; ``None`` takes ``lr``.
        warmup_num_steps: warmup length, a positive integer.
        warmup_type: ``"log"`` or ``"linear"``.
        lr: the optimizer's lr, used only when ``warmup_max_lr`` is ``None``.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on bad or misordered arguments, or ``warmup_max_lr=None``
            without ``lr``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.warmup_lr(0.0, 1.0, warmup_num_steps=4, warmup_type="linear")
        >>> [round(float(s(k)), 6) for k in range(7)]
        [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]

    Matches ``deepspeed.runtime.lr_schedules.WarmupLR`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.warmup_lr"
    n = _warmup_checks(fn, warmup_num_steps, warmup_type)
    min_lr = check.nonneg(fn, "warmup_min_lr", warmup_min_lr)
    max_lr = _max_lr(fn, warmup_max_lr, lr)
    check.ordered(fn, "warmup_min_lr", min_lr, "warmup_max_lr", max_lr)
    delta = max_lr - min_lr

    def lr_fn(k: jax.Array) -> jax.Array:
        gamma = jnp.where(k <= n, _warmup_fraction(k, n, warmup_type), 1.0)
        return jnp.where(k == 0, min_lr, min_lr + delta * gamma)

    return Schedule(lr_fn, name=fn, params=dict(
        warmup_min_lr=min_lr, warmup_max_lr=max_lr, warmup_num_steps=int(warmup_num_steps),
        warmup_type=warmup_type))


def warmup_decay_lr(
    total_num_steps: int,
    warmup_min_lr: float = 0.0,
    warmup_max_lr: float | None = 0.001,
    warmup_num_steps: int = 1000,
    warmup_type: str = "log",
    *,
    lr: float | None = None,
) -> Schedule:
    """DeepSpeed's WarmupDecayLR: WarmupLR's warmup, then linear decay *to* ``min_lr``.

    Warmup as in ``warmup_lr`` (``n = max(2, warmup_num_steps)``, ``i = k - 1``); for
    ``i >= n``: ``lr = min_lr + (max_lr - min_lr) * max(0, (total - i) / max(1, total - n))``.

    DeepSpeed quirks reproduced: the decay ends at ``warmup_min_lr``, not 0 (reached at step
    ``total + 1`` and held forever after); ``min_lr`` serves steps 0 and 1. DeepSpeed only
    warns when ``total_num_steps < max(2, warmup_num_steps)``: that raises here.

    Args:
        total_num_steps: the step at which the decay ends, a positive integer.
        warmup_min_lr: lr at steps 0 and 1 and after the decay, >= 0.
        warmup_max_lr: peak lr; ``None`` takes ``lr``.
        warmup_num_steps: warmup length, a positive integer.
        warmup_type: ``"log"`` or ``"linear"``.
        lr: the optimizer's lr, used only when ``warmup_max_lr`` is ``None``.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on bad or misordered arguments.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.warmup_decay_lr(6, 0.0, 1.0, warmup_num_steps=2,
        ...                              warmup_type="linear")
        >>> [round(float(s(k)), 6) for k in range(9)]
        [0.0, 0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]

    Matches ``deepspeed.runtime.lr_schedules.WarmupDecayLR`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.warmup_decay_lr"
    n = _warmup_checks(fn, warmup_num_steps, warmup_type)
    total = check.integer(fn, "total_num_steps", total_num_steps, minimum=1)
    if total < n:
        raise ValueError(f"{fn}: total_num_steps ({total}) must be >= max(2, "
                         f"warmup_num_steps) ({n})")
    min_lr = check.nonneg(fn, "warmup_min_lr", warmup_min_lr)
    max_lr = _max_lr(fn, warmup_max_lr, lr)
    check.ordered(fn, "warmup_min_lr", min_lr, "warmup_max_lr", max_lr)
    delta = max_lr - min_lr
    denominator = max(1, total - n)

    def lr_fn(k: jax.Array) -> jax.Array:
        i = jnp.maximum(k, 1) - 1  # last_batch_iteration, >= 0
        decay = divide(jnp.maximum(total - i, 0), denominator)  # remaining steps, exact
        gamma = jnp.where(k <= n, _warmup_fraction(k, n, warmup_type), decay)
        return jnp.where(k == 0, min_lr, min_lr + delta * gamma)

    return Schedule(lr_fn, name=fn, params=dict(
        total_num_steps=total, warmup_min_lr=min_lr, warmup_max_lr=max_lr,
        warmup_num_steps=int(warmup_num_steps), warmup_type=warmup_type))


def warmup_cosine_lr(
    total_num_steps: int,
    warmup_min_ratio: float = 0.0,
    warmup_num_steps: int = 1000,
    cos_min_ratio: float = 0.0001,
    warmup_type: str = "log",
    *,
    lr: float,
) -> Schedule:
    """DeepSpeed's WarmupCosineLR: warmup then cosine decay, in ratios of the optimizer's lr.

    With ``n = max(2, warmup_num_steps)`` and ``i = k - 1``: ``lr(0) = 0``; for
    ``0 <= i < n``, ``ratio = wmin + g * (1 - wmin)`` with ``g`` as in ``warmup_lr``; after,
    ``p = min(1, (i - n + 1) / max(1, total - n))`` and
    ``ratio = max(0, cmin + (1 - cmin) * (1 + cos(pi * p)) / 2)``; ``lr = lr0 * ratio``.

    The cosine is computed as ``sin(pi/2 * r / D)**2`` from the remaining steps ``r`` (of
    ``D = max(1, total - n)``), so it keeps its relative accuracy to the last step before a
    zero floor, where DeepSpeed's ``1 + cos(pi p)`` cancels (1e-9 relative, measured).

    DeepSpeed quirks reproduced: the value at construction is 0 whatever
    ``warmup_min_ratio`` is; ``wmin * lr0`` serves step 1; with linear warmup the ratio never
    equals 1.0 during warmup (it peaks at ``(n-1)/n``, then the cosine starts below 1); past
    ``total_num_steps`` the ratio holds at ``cos_min_ratio`` (clamped since DeepSpeed 0.19.3).
    DeepSpeed only warns when ``total_num_steps < max(2, warmup_num_steps)``: that raises here.

    Args:
        total_num_steps: the step at which the cosine ends, a positive integer.
        warmup_min_ratio: ratio at step 1, in [0, 1].
        warmup_num_steps: warmup length, a positive integer.
        cos_min_ratio: final ratio, in [0, 1].
        warmup_type: ``"log"`` or ``"linear"``.
        lr: the optimizer's lr (DeepSpeed's ``org_lrs``), >= 0. Keyword-only, required.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on bad arguments.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.warmup_cosine_lr(6, warmup_num_steps=2, cos_min_ratio=0.0,
        ...                               warmup_type="linear", lr=1.0)
        >>> [round(float(s(k)), 6) for k in range(8)]
        [0.0, 0.0, 0.5, 0.853553, 0.5, 0.146447, 0.0, 0.0]

    Matches ``deepspeed.runtime.lr_schedules.WarmupCosineLR`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.warmup_cosine_lr"
    n = _warmup_checks(fn, warmup_num_steps, warmup_type)
    total = check.integer(fn, "total_num_steps", total_num_steps, minimum=1)
    if total < n:
        raise ValueError(f"{fn}: total_num_steps ({total}) must be >= max(2, "
                         f"warmup_num_steps) ({n})")
    wmin = check.unit(fn, "warmup_min_ratio", warmup_min_ratio)
    cmin = check.unit(fn, "cos_min_ratio", cos_min_ratio)
    base = check.nonneg(fn, "lr", lr)
    decay_len = max(1, total - n)

    def lr_fn(k: jax.Array) -> jax.Array:
        warm = wmin + _warmup_fraction(k, n, warmup_type) * (1.0 - wmin)
        # (1 + cos(pi p)) / 2 from the remaining steps, exact to the last step
        rest = jnp.clip(decay_len - (k - n), 0, decay_len)
        cosine = cmin + (1.0 - cmin) * half_cos(rest, decay_len)
        ratio = jnp.where(k <= n, warm, cosine)
        return jnp.where(k == 0, 0.0, base * ratio)

    return Schedule(lr_fn, name=fn, params=dict(
        total_num_steps=total, warmup_min_ratio=wmin, warmup_num_steps=int(warmup_num_steps),
        cos_min_ratio=cmin, warmup_type=warmup_type, lr=base))
