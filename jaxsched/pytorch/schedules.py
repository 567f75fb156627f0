"""``torch.optim.lr_scheduler``'s decay schedules (torch 2.13) as pure functions.

Value at step ``k`` = the lr torch has put in force after its constructor (``last_epoch``
0) and ``k`` calls of ``step()`` (``last_epoch`` ``k``). torch computes most of these
recursively (``get_lr`` multiplies the lr currently in the group), which in exact arithmetic
telescopes to a closed form; that closed form is what is computed here, to a few ulps of its
exact value at any count (``jaxsched.exact``: integer positions and remaining steps, powers
with an exactly split exponent, cosines as ``sin**2`` of the distance to their zero). torch's
recursion drifts from it by a few ulps per step (CosineAnnealingLR ~4e-12 over two periods,
LinearLR ending at -7e-17 instead of 0): there jaxsched is the closer of the two to the exact
curve, and parity is judged three ways (``jaxsched.parity.judge``). ``lr`` is the optimizer's
lr (torch's ``base_lrs``), keyword-only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import jax
import jax.numpy as jnp
from jax import lax

from jaxsched.core import checks as check
from jaxsched.core.exact import half_cos, idiv, imod, int_pow, is_x64, to_float
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.pytorch.lambdas import (  # noqa: F401  (re-exported: old import paths)
    is_plain_function,
    lambda_lr,
    multiplicative_lr,
    table_lookup,
    traceable,
)

__all__ = ["constant_lr", "cosine_annealing_lr", "exponential_lr", "lambda_lr", "linear_lr",
           "multi_step_lr", "multiplicative_lr", "polynomial_lr", "step_lr"]


def _gamma(fn: str, gamma: object) -> float:
    """A finite real decay factor; a negative one, which torch multiplies in as it is (its
    lrs alternate in sign), warns once."""
    g = check.real(fn, "gamma", gamma)
    if g < 0:
        warnings.warn(f"{fn}: gamma={g!r} is negative, so the schedule's lrs alternate in sign "
                      f"(as in torch)", UserWarning, stacklevel=4)
    return g


@schedule_factory
def step_lr(step_size: int, gamma: float = 0.1, *, lr: float) -> Schedule:
    """torch's StepLR: ``lr * gamma ** (k // step_size)`` (integer floor division).

    Args:
        step_size: period of decay, a positive integer.
        gamma: factor per period; a growth factor > 1 (an LR range test) is accepted, as
            torch does, and overflows to inf far out where torch's does; a negative one
            alternates the lr's sign, as torch's does (with a ``UserWarning``).
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a non-integer or non-positive ``step_size``, a non-finite
            ``gamma``, or a negative or non-finite ``lr``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.step_lr(2, gamma=0.5, lr=1.0)
        >>> [float(s(k)) for k in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]

    Matches ``torch.optim.lr_scheduler.StepLR`` of torch 2.13.0.
    """
    fn = "jaxsched.step_lr"
    size = check.phase(fn, "step_size", step_size)
    g = _gamma(fn, gamma)
    base = check.nonneg(fn, "lr", lr)

    def lr_fn(k: jax.Array) -> jax.Array:
        check.reachable(fn, "step_size", size, k)
        return base * int_pow(g, idiv(k, size))

    return Schedule(lr_fn, name=fn, params=dict(step_size=size, gamma=g, lr=base))


@schedule_factory
def multi_step_lr(milestones: Iterable[int], gamma: float = 0.1, *, lr: float) -> Schedule:
    """torch's MultiStepLR: ``lr * gamma ** n(k)``, ``n(k)`` = milestones ``<= k``.

    torch keeps milestones in a ``Counter``: a milestone given twice counts twice (the decay
    compounds), order does not matter, and a milestone at 0 applies at construction.
    Negative milestones, which torch's recursive form never reaches but its closed form
    counts, are rejected.

    Args:
        milestones: the steps at which to decay, non-negative integers.
        gamma: factor per milestone (a growth factor > 1 is accepted, as torch does; a
            negative one alternates the lr's sign, with a ``UserWarning``).
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a negative or non-integer milestone, or a bad ``gamma``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.multi_step_lr([1, 3, 3], gamma=0.5, lr=1.0)
        >>> [float(s(k)) for k in range(5)]
        [1.0, 0.5, 0.5, 0.125, 0.125]

    Matches ``torch.optim.lr_scheduler.MultiStepLR`` of torch 2.13.0.
    """
    fn = "jaxsched.multi_step_lr"
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
        raise TypeError(f"{fn}: milestones must be a sequence of integers, got {milestones!r}")
    ms = sorted(check.phase(fn, "milestones[i]", m, minimum=0) for m in milestones)
    g = _gamma(fn, gamma)
    base = check.nonneg(fn, "lr", lr)
    # torch's recursion, on the host: at each distinct milestone lr *= gamma ** count
    points = sorted(set(ms))
    values = [base]
    for m in points:
        values.append(values[-1] * g ** ms.count(m))

    def lr_fn(k: jax.Array) -> jax.Array:
        if not points:
            return jnp.full(k.shape, base)
        check.reachable(fn, "milestones[-1]", points[-1], k)
        n = jnp.sum(k[..., None] >= jnp.asarray(points, k.dtype), axis=-1)
        return table_lookup(values, n)

    return Schedule(lr_fn, name=fn, params=dict(milestones=list(ms), gamma=g, lr=base))


@schedule_factory
def constant_lr(factor: float = 1.0 / 3, total_iters: int = 5, *, lr: float) -> Schedule:
    """torch's ConstantLR: ``lr * factor`` for ``k < total_iters``, then ``lr``.

    torch undoes the factor by multiplying with ``1 / factor``, so its restored lr can
    differ from ``lr`` in the last bit; this returns ``lr`` itself, the exact value.

    torch accepts ``factor = 0`` and then divides by zero at ``total_iters``, and
    ``total_iters = 0`` keeps ``factor`` forever when stepped but not in its closed form:
    both raise here.

    Args:
        factor: in (0, 1].
        total_iters: steps at the reduced lr, a positive integer.
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on arguments out of range.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.constant_lr(0.5, total_iters=2, lr=1.0)
        >>> [float(s(k)) for k in range(4)]
        [0.5, 0.5, 1.0, 1.0]

    Matches ``torch.optim.lr_scheduler.ConstantLR`` of torch 2.13.0.
    """
    fn = "jaxsched.constant_lr"
    f = check.unit(fn, "factor", factor)
    if f == 0.0:
        raise ValueError(f"{fn}: factor must be in (0, 1] (torch divides by it at "
                         f"total_iters), got {factor!r}")
    total = check.phase(fn, "total_iters", total_iters)
    base = check.nonneg(fn, "lr", lr)
    reduced = base * f

    def lr_fn(k: jax.Array) -> jax.Array:
        check.reachable(fn, "total_iters", total, k)
        return jnp.where(k < total, to_float(reduced), base)

    return Schedule(lr_fn, name=fn, params=dict(factor=f, total_iters=total, lr=base))


@schedule_factory
def linear_lr(start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5,
              *, lr: float) -> Schedule:
    """torch's LinearLR: ``lr * (s + (e - s) * min(k, total_iters) / total_iters)``.

    Computed as ``(s (T - m) + e m) / T`` with ``m = min(k, T)``: exact at both ends (torch's
    recursion ends a decay to ``end_factor=0`` at -7e-17, not 0) and relatively accurate in
    between.

    torch's ``total_iters = 0`` holds ``start_factor`` forever when stepped but divides by
    zero in its closed form: it raises here.

    Args:
        start_factor: in (0, 1].
        end_factor: in [0, 1].
        total_iters: steps of the ramp, a positive integer.
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on arguments out of range.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.linear_lr(0.25, 1.0, total_iters=3, lr=1.0)
        >>> [float(s(k)) for k in range(5)]
        [0.25, 0.5, 0.75, 1.0, 1.0]

    Matches ``torch.optim.lr_scheduler.LinearLR`` of torch 2.13.0.
    """
    fn = "jaxsched.linear_lr"
    s = check.unit(fn, "start_factor", start_factor)
    if s == 0.0:
        raise ValueError(f"{fn}: start_factor must be in (0, 1], got {start_factor!r}")
    e = check.unit(fn, "end_factor", end_factor)
    total = check.phase(fn, "total_iters", total_iters)
    base = check.nonneg(fn, "lr", lr)

    def lr_fn(k: jax.Array) -> jax.Array:
        check.reachable(fn, "total_iters", total, k)
        # s + (e - s) m / T as (s (T - m) + e m) / T: non-negative terms, exact at both ends
        m = jnp.minimum(k, total)
        return base * ((s * to_float(total - m) + e * to_float(m)) / total)

    return Schedule(lr_fn, name=fn, params=dict(start_factor=s, end_factor=e,
                                                 total_iters=total, lr=base))


@schedule_factory
def exponential_lr(gamma: float, *, lr: float) -> Schedule:
    """torch's ExponentialLR: ``lr * gamma ** k``.

    Args:
        gamma: factor per step; a growth factor > 1 (an LR range test) is accepted, as
            torch does, and overflows to inf far out where torch's does; a negative one
            alternates the lr's sign, as torch's does (with a ``UserWarning``).
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a non-finite argument or a negative ``lr``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.exponential_lr(0.5, lr=1.0)
        >>> [float(s(k)) for k in range(4)]
        [1.0, 0.5, 0.25, 0.125]

    Matches ``torch.optim.lr_scheduler.ExponentialLR`` of torch 2.13.0.
    """
    fn = "jaxsched.exponential_lr"
    g = _gamma(fn, gamma)
    base = check.nonneg(fn, "lr", lr)
    return Schedule(lambda k: base * int_pow(g, k), name=fn, params=dict(gamma=g, lr=base))


@schedule_factory
def polynomial_lr(total_iters: int = 5, power: float = 1.0, *, lr: float) -> Schedule:
    """torch's PolynomialLR: ``lr * (1 - min(k, total_iters) / total_iters) ** power``.

    torch's ``total_iters = 0`` divides by zero in its closed form, and a negative ``power``
    divides by zero at ``total_iters``: both raise here.

    Args:
        total_iters: steps of the decay, a positive integer.
        power: exponent, >= 0.
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on arguments out of range.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.polynomial_lr(4, power=2.0, lr=1.0)
        >>> [float(s(k)) for k in range(6)]
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]

    Matches ``torch.optim.lr_scheduler.PolynomialLR`` of torch 2.13.0.
    """
    fn = "jaxsched.polynomial_lr"
    total = check.phase(fn, "total_iters", total_iters)
    p = check.nonneg(fn, "power", power)
    base = check.nonneg(fn, "lr", lr)

    def lr_fn(k: jax.Array) -> jax.Array:  # 1 - m / T from the remaining steps: exact at T
        check.reachable(fn, "total_iters", total, k)
        rest = to_float(total - jnp.minimum(k, total)) / total
        # 0 ** p is 0 for any p > 0, also a p that float32 rounds to 0
        return base * jnp.where(rest == 0, 0.0 if p > 0 else 1.0, rest**p)

    return Schedule(lr_fn, name=fn, params=dict(total_iters=total, power=p, lr=base))


@schedule_factory
def cosine_annealing_lr(T_max: int, eta_min: float = 0.0, *, lr: float) -> Schedule:
    """torch's CosineAnnealingLR: ``eta_min + (lr - eta_min) * (1 + cos(pi * k / T_max)) / 2``.

    torch's recursive form does not stop at ``T_max``: past it the lr climbs back along the
    cosine and returns to ``lr`` at ``2 * T_max``, with period ``2 * T_max``. That is what this
    returns; use ``optax.cosine_decay_schedule`` for a cosine that holds at the end. The
    position is reduced modulo ``2 * T_max`` in integers; float64 computes the curve as
    ``low + span * sin(pi m / (2 T_max))**2`` with ``m`` the integer distance to the nearest
    low point: exact to a few ulps at any count, relatively accurate down to a zero
    ``eta_min``. An ``eta_min`` above ``lr`` anneals upward, as in torch. float32, whose
    tolerance is of the peak, computes
    ``mid + half * sin(pi/2 - pi r / T_max)`` (XLA:CPU's float32 sine is cheaper than its
    cosine). torch's recursion drifts from the exact curve (1.5e-12 relative over 5000
    steps of ``T_max=100``).

    Args:
        T_max: half period, a positive integer.
        eta_min: the lr at ``T_max``, >= 0 (above ``lr`` the cosine rises, as torch's).
        lr: the optimizer's lr.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a non-positive ``T_max``, or a negative or non-finite
            ``eta_min`` or ``lr``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.cosine_annealing_lr(2, lr=1.0)
        >>> [round(float(s(k)), 6) for k in range(5)]
        [1.0, 0.5, 0.0, 0.5, 1.0]

    Matches ``torch.optim.lr_scheduler.CosineAnnealingLR`` of torch 2.13.0.
    """
    fn = "jaxsched.cosine_annealing_lr"
    t = check.phase(fn, "T_max", T_max)
    eta = check.nonneg(fn, "eta_min", eta_min)
    base = check.nonneg(fn, "lr", lr)

    period = 2 * t
    low, span = eta, base - eta
    mid, half = eta + (base - eta) / 2, (base - eta) / 2

    def lr_fn(k: jax.Array) -> jax.Array:
        check.reachable(fn, "T_max", t, k)
        # k >= 0; a period past the count's dtype (int32 without x64) is never reached. A
        # scalar count (a training step's) takes the remainder unsigned and only past the
        # first period: XLA:CPU's scalar signed remainder guards overflow and cost ~0.5x
        # optax's whole cosine step (bench/counts.py). A vector of counts (a curve)
        # vectorises the signed remainder well, and the select would cost more there.
        if period <= jnp.iinfo(k.dtype).max and k.ndim == 0:
            k = jnp.where(k < period, k, imod(k, period))
        elif period <= jnp.iinfo(k.dtype).max:
            k = lax.rem(k, jnp.asarray(period, k.dtype))
        if not is_x64():  # float32's tolerance is of the peak: one cosine of the exactly
            # reduced position x in [0, 2 pi), as optax's; a vector as sin(pi/2 - x), which
            # XLA:CPU's vectorised sine computes faster there (the scalar cosine is faster)
            x = to_float(k) * (math.pi / t)
            return mid + half * (jnp.cos(x) if k.ndim == 0 else jnp.sin(math.pi / 2 - x))
        # the distance (in steps) from the nearest low point, T_max (eta_min)
        return low + span * half_cos(jnp.abs(t - k), t)

    return Schedule(lr_fn, name=fn, params=dict(T_max=t, eta_min=eta, lr=base))
