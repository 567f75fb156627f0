"""Keras 3.15.1's ``keras.optimizers.schedules`` as jaxsched schedules, under Keras's class
names and arguments.

A Keras schedule is itself the stateful-free front end: a callable of the optimizer's
``iterations`` (the count of applied updates, what optax's ``count`` is) with
``get_config()`` / ``from_config()``. Each class here is a ``jaxsched.Schedule`` with those
two methods, so a Keras user's schedule, or its saved config, drops into optax as it is
(and, where Keras is loaded, into ``keras.optimizers`` as a ``LearningRateSchedule``).
Keras computes in float32 (``floatx``) from a float32 step, which loses the low bits of the
step past 2**24; here positions are integers and quotients of integers, so the float64 curve
is exact at any count and the float32 one within a few ulps of the peak. Every
configuration Keras accepts and steps through with finite values is accepted, with Keras's
formula (growth rates, fractional step counts, negative rates where Keras's lr stays
finite); where Keras raises, divides by zero or turns NaN, this port raises eagerly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, float_dtype, idiv, imod, int_pow, mix, to_float
from jaxsched.keras.base import KerasSchedule, _left, _lr, _name, _quotient, _steps
from jaxsched.keras.cosine import CosineDecay, CosineDecayRestarts
from jaxsched.keras.steps import ceil_span, floor_steps, signed_pow, unusual

__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "KerasSchedule", "PiecewiseConstantDecay", "PolynomialDecay"]


class ExponentialDecay(KerasSchedule):
    """Keras's ExponentialDecay: ``initial_learning_rate * decay_rate ** (step / decay_steps)``
    (the exponent floored when ``staircase``).

    Args:
        initial_learning_rate: the lr at step 0.
        decay_steps: > 0, possibly fractional.
        decay_rate: the factor per ``decay_steps``; above 1 the lr grows (an LR range test),
            until it overflows to inf far out, as Keras's does. A negative rate alternates
            the sign (Keras's ``power`` of an integral exponent); it is accepted where the
            exponent is always whole (``staircase``, or ``1 / decay_steps`` whole), since
            elsewhere Keras's lr is NaN.
        staircase: whether the exponent is floored; name: Keras's name (kept in the config).

    Raises:
        ValueError / TypeError: where Keras raises (decay_steps <= 0), where its lr is NaN,
            and for wrong types.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
        >>> [round(float(s(k)), 4) for k in (0, 9, 10, 25)]
        [0.1, 0.1, 0.05, 0.025]

    Matches ``keras.optimizers.schedules.ExponentialDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        fn, notes = "jaxsched.keras.ExponentialDecay", []
        lr = _lr(fn, "initial_learning_rate", initial_learning_rate, notes)
        d = _steps(fn, "decay_steps", decay_steps)
        rate = check.real(fn, "decay_rate", decay_rate)
        staircase = check.boolean(fn, "staircase", staircase)
        per = 1 / Fraction(d)  # steps are whole: the exponent k / d is whole iff per is
        if rate < 0:
            if not staircase and per.denominator != 1:
                raise ValueError(f"{fn}: decay_rate must be >= 0 unless staircase=True (or "
                                 f"1 / decay_steps is whole), got {decay_rate!r}: Keras's "
                                 f"lr is NaN at the first fractional exponent")
            notes.append(f"decay_rate={decay_rate!r} is negative (the lr alternates in sign)")
        unusual(fn, notes)
        a = abs(rate)

        def value(k: jax.Array) -> jax.Array:
            if staircase:
                return lr * signed_pow(rate, floor_steps(k, d))
            if a == 0.0:
                return jnp.where(k == 0, lr, 0.0).astype(float_dtype())
            if isinstance(d, int):  # rate**q * rate**(r/d): the error does not grow with k
                frac = jnp.exp(divide(imod(k, d), d) * math.log(a))
                out = lr * int_pow(a, idiv(k, d)) * frac
            else:
                out = lr * jnp.exp(_quotient(k, d) * math.log(a))
            if rate < 0 and per.numerator % 2 == 1:  # (-1) ** (k * per)
                out = jnp.where(k % 2 == 1, -out, out)
            return out

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d, decay_rate=rate,
                                staircase=staircase, name=_name(fn, name)))


class InverseTimeDecay(KerasSchedule):
    """Keras's InverseTimeDecay: ``initial_learning_rate / (1 + decay_rate * p)`` with
    ``p = step / decay_steps`` (floored when ``staircase``).

    A negative ``decay_rate`` makes the lr grow toward a pole and turn negative past it, as
    Keras's does; it is accepted unless the denominator is exactly 0 at some count (a
    division by zero).

    Raises:
        ValueError / TypeError: where Keras raises (decay_steps <= 0), at a pole reached
            exactly, and for wrong types.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)
        >>> [round(float(s(k)), 4) for k in (0, 10, 30)]
        [0.1, 0.05, 0.025]

    Matches ``keras.optimizers.schedules.InverseTimeDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        fn, notes = "jaxsched.keras.InverseTimeDecay", []
        lr = _lr(fn, "initial_learning_rate", initial_learning_rate, notes)
        d = _steps(fn, "decay_steps", decay_steps)
        rate = check.real(fn, "decay_rate", decay_rate)
        staircase = check.boolean(fn, "staircase", staircase)
        if rate < 0:  # 1 + rate * p = 0 at p = -1 / rate
            pole = -1 / Fraction(rate)
            hit = math.ceil(pole * Fraction(d)) if staircase else pole * Fraction(d)
            if (pole.denominator == 1 if staircase else hit.denominator == 1) and (
                    hit <= check.MAX_COUNT):
                raise ValueError(f"{fn}: decay_rate={decay_rate!r} with decay_steps="
                                 f"{decay_steps!r} divides by zero at step {int(hit)} (1 + "
                                 f"decay_rate * p = 0); Keras's lr is inf there")
            notes.append(f"decay_rate={decay_rate!r} is negative (the lr grows toward a pole "
                         f"near step {float(pole * Fraction(d)):.6g} and turns negative past it)")
        unusual(fn, notes)

        def value(k: jax.Array) -> jax.Array:
            p = to_float(floor_steps(k, d)) if staircase else _quotient(k, d)
            return lr / (1.0 + rate * p)

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d, decay_rate=rate,
                                staircase=staircase, name=_name(fn, name)))


class PiecewiseConstantDecay(KerasSchedule):
    """Keras's PiecewiseConstantDecay: ``values[0]`` while ``step <= boundaries[0]``,
    ``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after.

    Keras's boundary is *inclusive* on the left piece (optax's ``piecewise_constant_schedule``
    switches at the boundary itself): at ``step == boundaries[0]`` the lr is still
    ``values[0]``. Keras casts the boundaries to the step's integer dtype, truncating a
    fractional one toward zero; so does this port. Boundaries out of order are accepted
    with Keras's values: it adds the pieces whose conditions hold (a warning says so).

    Example:
        >>> from jaxsched import keras
        >>> s = keras.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> [round(float(s(k)), 6) for k in (100, 101, 200, 201)]
        [1.0, 0.5, 0.5, 0.1]

    Matches ``keras.optimizers.schedules.PiecewiseConstantDecay`` of Keras 3.15.1.
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        fn, notes = "jaxsched.keras.PiecewiseConstantDecay", []
        for arg, seq in (("boundaries", boundaries), ("values", values)):
            if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
                raise TypeError(f"{fn}: {arg} must be a list, got {seq!r}")
        if len(boundaries) != len(values) - 1 or not boundaries:
            raise ValueError(f"{fn}: boundaries must be one shorter than values and not "
                             f"empty (Keras raises), got {len(boundaries)} boundaries and "
                             f"{len(values)} values")
        bs = [check.real(fn, f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        vs = [check.real(fn, f"values[{i}]", v) for i, v in enumerate(values)]
        if any(v < 0 for v in vs):
            notes.append(f"values={list(values)!r} has a negative lr (the optimizer ascends)")
        cut = [max(math.trunc(b), -1) for b in bs]  # Keras: int cast
        ordered = cut == sorted(cut)
        if not ordered:
            notes.append(f"boundaries={list(boundaries)!r} are not in order (Keras adds the "
                         f"values of the overlapping pieces)")
        unusual(fn, notes)

        def value(k: jax.Array) -> jax.Array:  # a boundary past the count's int: never hit
            b = jnp.asarray([min(c, int(jnp.iinfo(k.dtype).max)) for c in cut], k.dtype)
            v = jnp.asarray(vs, float_dtype())
            if ordered:
                return v[jnp.searchsorted(b, k, side="left")]
            inside = jnp.concatenate([(k <= b[:1]), (k > b[:-1]) & (k <= b[1:]), (k > b[-1:])])
            return jnp.sum(jnp.where(inside, v, 0.0))

        self._build(value, dict(boundaries=list(boundaries), values=list(values),
                                name=_name(fn, name)))


class PolynomialDecay(KerasSchedule):
    """Keras's PolynomialDecay: ``(initial - end) * (1 - p) ** power + end`` with
    ``p = min(step, decay_steps) / decay_steps``; with ``cycle``, ``p = step / (decay_steps *
    ceil(step / decay_steps))`` (``ceil`` taken as 1 at step 0), so each multiple of
    ``decay_steps`` ends a cycle at ``end`` and the next step jumps back up.

    Computed as the weighted sum ``initial * w + end * (1 - w)``, exact also when ``end``
    exceeds ``initial`` (a polynomial warmup). ``decay_steps`` may be fractional. A negative
    ``power`` is refused where the decay ends within the count's range (Keras's lr is inf
    there).

    Example:
        >>> from jaxsched import keras
        >>> s = keras.PolynomialDecay(0.1, 10, end_learning_rate=0.0, power=2.0, cycle=True)
        >>> [round(float(s(k)), 4) for k in (0, 5, 10, 11, 20)]
        [0.1, 0.025, 0.0, 0.0203, 0.0]

    Matches ``keras.optimizers.schedules.PolynomialDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay") -> None:
        fn, notes = "jaxsched.keras.PolynomialDecay", []
        lr = _lr(fn, "initial_learning_rate", initial_learning_rate, notes)
        d = _steps(fn, "decay_steps", decay_steps)
        end = _lr(fn, "end_learning_rate", end_learning_rate, notes)
        power = check.real(fn, "power", power)
        cycle = check.boolean(fn, "cycle", cycle)
        if power < 0 and d <= check.MAX_COUNT:
            raise ValueError(f"{fn}: power must be >= 0, got {power!r} (Keras's lr is inf "
                             f"at step {math.ceil(d)}, where 0.0 ** power divides by zero)")
        unusual(fn, notes)

        def value(k: jax.Array) -> jax.Array:
            if cycle and isinstance(d, int):  # rest = d * ceil(k / d) - k, over that span
                rest = jnp.where(k == 0, d, imod(d - imod(k, d), d))  # Keras: ceil 1 at 0
                frac_rest = to_float(rest) / (to_float(k) + to_float(rest))
            elif cycle:
                rest, span = ceil_span(k, d)
                frac_rest = jnp.clip(rest / span, 0.0, 1.0)
            else:
                frac_rest = _quotient(_left(k, d), d)
            if power == 0.0:  # Keras: 0.0 ** 0.0 == 1, also at the end of a cycle
                return jnp.full_like(frac_rest, lr)
            # at the end (frac_rest = 0) w = 0 exactly: power * log(0) would be 0 * -inf
            # (NaN) for a power that is 0 in float32 (a Python 1e-169)
            end_of_decay = frac_rest == 0
            log_w = power * jnp.log(jnp.where(end_of_decay, 1.0, frac_rest))
            w = jnp.where(end_of_decay, 0.0, jnp.exp(log_w))
            w_end = jnp.where(end_of_decay, 1.0, -jnp.expm1(log_w))
            return mix(lr, w, end, w_end)

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d,
                                end_learning_rate=end, power=power, cycle=cycle,
                                name=_name(fn, name)))


# Keras's six schedule classes by name (config import, registration with Keras)
CLASSES = {cls.__name__: cls for cls in (
    ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
    CosineDecay, CosineDecayRestarts)}
