"""Keras 3.15.1's ``keras.optimizers.schedules`` as jaxsched schedules, under Keras's class
names and arguments.

A Keras schedule is itself the stateful-free front end: a callable of the optimizer's
``iterations`` (the count of applied updates, what optax's ``count`` is) with
``get_config()`` / ``from_config()``. Each class here is a ``jaxsched.Schedule`` with those
two methods, so a Keras user's schedule, or its saved config, drops into optax as it is.
Keras computes in float32 (``floatx``) from a float32 step, which loses the low bits of the
step past 2**24; here positions are integers and quotients of integers, so the float64 curve
is exact at any count and the float32 one within a few ulps of the peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.cycles import Cycles
from jaxsched.core.exact import (
    divide,
    float_dtype,
    floor_div,
    half_cos,
    idiv,
    imod,
    int_pow,
    mix,
    to_float,
)
from jaxsched.core.schedule import Schedule

__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "KerasSchedule", "PiecewiseConstantDecay", "PolynomialDecay"]

DECAY = " (a decay above 1 grows the lr; Keras accepts it silently)"


class KerasSchedule(Schedule):
    """A ``jaxsched.Schedule`` that is also a Keras ``LearningRateSchedule``:
    ``get_config()`` gives Keras's config dict, ``from_config(config)`` rebuilds it."""

    __slots__ = ("_config",)

    def _build(self, fn: Any, config: dict[str, Any]) -> None:
        self._config = dict(config)
        params = {k: v for k, v in config.items() if k != "name"}
        Schedule.__init__(self, fn, name=f"jaxsched.keras.{type(self).__name__}", params=params)

    def get_config(self) -> dict[str, Any]:
        """Keras's ``get_config()``: the constructor's arguments, ``name`` included."""
        return {k: (list(v) if isinstance(v, (list, tuple)) else v)
                for k, v in self._config.items()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> KerasSchedule:
        """Keras's ``from_config``: the schedule ``cls(**config)``."""
        if not isinstance(config, Mapping):
            raise TypeError(f"jaxsched.keras.{cls.__name__}.from_config: config must be a "
                            f"dict, got {config!r}")
        return cls(**config)


def _steps(fn: str, name: str, value: Any, *, integral: bool = False) -> float | int:
    v = check.real(fn, name, value)
    if v <= 0:
        raise ValueError(f"{fn}: {name} must be > 0 (Keras raises), got {value!r}")
    if integral:
        if not v.is_integer():
            raise ValueError(f"{fn}: {name} must be a whole number of steps here, got "
                             f"{value!r}")
        return check.integer(fn, name, v, minimum=1)
    return int(v) if v.is_integer() else v


def _name(fn: str, name: Any) -> Any:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{fn}: name must be a string or None, got {name!r}")
    return name


def _quotient(k: jax.Array, d: float | int) -> jax.Array:
    """``k / d`` (a correctly rounded quotient for an integer ``d``)."""
    return divide(k, d) if isinstance(d, int) else to_float(k) / d


class ExponentialDecay(KerasSchedule):
    """Keras's ExponentialDecay: ``initial_learning_rate * decay_rate ** (step / decay_steps)``
    (the exponent floored when ``staircase``).

    Args:
        initial_learning_rate: the lr at step 0 (>= 0).
        decay_steps: > 0, possibly fractional; decay_rate: in [0, 1].
        staircase: whether the exponent is floored; name: Keras's name (kept in the config).

    Raises:
        ValueError / TypeError: where Keras raises (decay_steps <= 0), for a growth rate,
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
        fn = "jaxsched.keras.ExponentialDecay"
        lr = check.nonneg(fn, "initial_learning_rate", initial_learning_rate)
        d = _steps(fn, "decay_steps", decay_steps)
        rate = check.unit(fn, "decay_rate", decay_rate, DECAY)
        staircase = check.boolean(fn, "staircase", staircase)

        def value(k: jax.Array) -> jax.Array:
            if staircase:
                return lr * int_pow(rate, floor_div(k, d))
            if rate == 0.0:
                return jnp.where(k == 0, lr, 0.0).astype(float_dtype())
            if isinstance(d, int):  # rate**q * rate**(r/d): the error does not grow with k
                frac = jnp.exp(divide(imod(k, d), d) * math.log(rate))
                return lr * int_pow(rate, idiv(k, d)) * frac
            return lr * jnp.exp(_quotient(k, d) * math.log(rate))

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d, decay_rate=rate,
                                staircase=staircase, name=_name(fn, name)))


class InverseTimeDecay(KerasSchedule):
    """Keras's InverseTimeDecay: ``initial_learning_rate / (1 + decay_rate * p)`` with
    ``p = step / decay_steps`` (floored when ``staircase``).

    Raises:
        ValueError / TypeError: where Keras raises (decay_steps <= 0), for a negative rate
            (the lr would pass a pole), and for wrong types.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)
        >>> [round(float(s(k)), 4) for k in (0, 10, 30)]
        [0.1, 0.05, 0.025]

    Matches ``keras.optimizers.schedules.InverseTimeDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay") -> None:
        fn = "jaxsched.keras.InverseTimeDecay"
        lr = check.nonneg(fn, "initial_learning_rate", initial_learning_rate)
        d = _steps(fn, "decay_steps", decay_steps)
        rate = check.nonneg(fn, "decay_rate", decay_rate)
        staircase = check.boolean(fn, "staircase", staircase)

        def value(k: jax.Array) -> jax.Array:
            p = to_float(floor_div(k, d)) if staircase else _quotient(k, d)
            return lr / (1.0 + rate * p)

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d, decay_rate=rate,
                                staircase=staircase, name=_name(fn, name)))


class PiecewiseConstantDecay(KerasSchedule):
    """Keras's PiecewiseConstantDecay: ``values[0]`` while ``step <= boundaries[0]``,
    ``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after.

    Keras's boundary is *inclusive* on the left piece (optax's ``piecewise_constant_schedule``
    switches at the boundary itself): at ``step == boundaries[0]`` the lr is still
    ``values[0]``. Keras casts the boundaries to the step's integer dtype, truncating a
    fractional one toward zero; so does this port. Boundaries must be non-decreasing (Keras
    sums overlapping pieces otherwise).

    Example:
        >>> from jaxsched import keras
        >>> s = keras.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> [round(float(s(k)), 6) for k in (100, 101, 200, 201)]
        [1.0, 0.5, 0.5, 0.1]

    Matches ``keras.optimizers.schedules.PiecewiseConstantDecay`` of Keras 3.15.1.
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float],
                 name: str = "PiecewiseConstant") -> None:
        fn = "jaxsched.keras.PiecewiseConstantDecay"
        for arg, seq in (("boundaries", boundaries), ("values", values)):
            if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
                raise TypeError(f"{fn}: {arg} must be a list, got {seq!r}")
        if len(boundaries) != len(values) - 1 or not boundaries:
            raise ValueError(f"{fn}: boundaries must be one shorter than values and not "
                             f"empty (Keras raises), got {len(boundaries)} boundaries and "
                             f"{len(values)} values")
        bs = [check.real(fn, f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        vs = [check.nonneg(fn, f"values[{i}]", v) for i, v in enumerate(values)]
        cut = [math.trunc(b) for b in bs]  # Keras casts to the step's int dtype
        if cut != sorted(cut):
            raise ValueError(f"{fn}: boundaries must be non-decreasing (Keras adds the "
                             f"overlapping pieces), got {list(boundaries)!r}")
        cut = [min(max(c, -1), check.MAX_COUNT) for c in cut]

        def value(k: jax.Array) -> jax.Array:
            i = jnp.searchsorted(jnp.asarray(cut, k.dtype), k, side="left")
            return jnp.asarray(vs, float_dtype())[i]

        self._build(value, dict(boundaries=list(boundaries), values=list(values),
                                name=_name(fn, name)))


class PolynomialDecay(KerasSchedule):
    """Keras's PolynomialDecay: ``(initial - end) * (1 - p) ** power + end`` with
    ``p = min(step, decay_steps) / decay_steps``; with ``cycle``, ``p = step / (decay_steps *
    ceil(step / decay_steps))`` (``ceil`` taken as 1 at step 0), so each multiple of
    ``decay_steps`` ends a cycle at ``end`` and the next step jumps back up.

    Computed as the weighted sum ``initial * w + end * (1 - w)``, exact also when ``end``
    exceeds ``initial`` (a polynomial warmup). ``decay_steps`` must be whole here.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.PolynomialDecay(0.1, 10, end_learning_rate=0.0, power=2.0, cycle=True)
        >>> [round(float(s(k)), 4) for k in (0, 5, 10, 11, 20)]
        [0.1, 0.025, 0.0, 0.0203, 0.0]

    Matches ``keras.optimizers.schedules.PolynomialDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay") -> None:
        fn = "jaxsched.keras.PolynomialDecay"
        lr = check.nonneg(fn, "initial_learning_rate", initial_learning_rate)
        d = _steps(fn, "decay_steps", decay_steps, integral=True)
        end = check.nonneg(fn, "end_learning_rate", end_learning_rate)
        power = check.nonneg(fn, "power", power)
        cycle = check.boolean(fn, "cycle", cycle)

        def value(k: jax.Array) -> jax.Array:
            if cycle:  # rest = d * ceil(k / d) - k, over the cycle's span d * ceil(k / d)
                rest = jnp.where(k == 0, d, imod(d - imod(k, d), d))  # Keras: ceil 1 at 0
                frac_rest = to_float(rest) / (to_float(k) + to_float(rest))
            else:
                frac_rest = divide(d - jnp.minimum(k, d), d)
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


def _cosine(rest: jax.Array, span: Any, alpha: float, scale: Any = 1.0) -> jax.Array:
    """``(1 - alpha) * scale * (1 + cos(pi x)) / 2 + alpha`` at ``x = 1 - rest / span``."""
    c = half_cos(rest, span)
    return mix(1.0 - alpha, scale * c, alpha, 1.0)


class CosineDecay(KerasSchedule):
    """Keras's CosineDecay: with ``warmup_target=None``, ``initial * ((1 - alpha) * (1 +
    cos(pi min(step, decay_steps) / decay_steps)) / 2 + alpha)``; with a ``warmup_target``,
    a linear warmup from ``initial`` to it over ``warmup_steps``, then that cosine from the
    target (``warmup_steps`` is ignored without a target, as in Keras).

    The cosine is computed from the steps left (``sin**2``), so it keeps its relative
    accuracy to the last step before an ``alpha = 0`` floor. ``decay_steps`` and
    ``warmup_steps`` must be whole here.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.CosineDecay(0.0, 100, alpha=0.1, warmup_target=1e-3, warmup_steps=10)
        >>> [round(float(s(k)), 6) for k in (0, 5, 10, 60, 110, 500)]
        [0.0, 0.0005, 0.001, 0.00055, 0.0001, 0.0001]

    Matches ``keras.optimizers.schedules.CosineDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0) -> None:
        fn = "jaxsched.keras.CosineDecay"
        lr = check.nonneg(fn, "initial_learning_rate", initial_learning_rate)
        d = _steps(fn, "decay_steps", decay_steps, integral=True)
        alpha = check.unit(fn, "alpha", alpha)
        target = None if warmup_target is None else check.nonneg(fn, "warmup_target",
                                                                 warmup_target)
        w = check.integer(fn, "warmup_steps", warmup_steps, minimum=0)

        def value(k: jax.Array) -> jax.Array:
            if target is None:
                return lr * _cosine(d - jnp.minimum(k, d), d, alpha)
            decay = target * _cosine(d - jnp.clip(k - w, 0, d), d, alpha)
            if not w:  # Keras's cond never takes the 0 / 0 warmup branch
                return decay
            kw = jnp.minimum(k, w)
            warm = mix(lr, divide(w - kw, w), target, divide(kw, w))
            return jnp.where(k < w, warm, decay)

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d, alpha=alpha,
                                name=_name(fn, name), warmup_target=target,
                                warmup_steps=warmup_steps))


class CosineDecayRestarts(KerasSchedule):
    """Keras's CosineDecayRestarts (SGDR): cosine cycles of ``first_decay_steps * t_mul**i``
    steps, the ``i``-th scaled by ``m_mul**i``: ``initial * ((1 - alpha) * m_mul**i * (1 +
    cos(pi x)) / 2 + alpha)`` at position ``x`` of cycle ``i``.

    Keras finds the cycle with ``floor(log(1 - f (1 - t_mul)) / log(t_mul))`` in float32 on
    a float32 step, which misplaces cycle starts (and, past 2**24, steps); here the cycle
    starts are exact (``jaxsched.core.cycles.Cycles``). ``first_decay_steps`` must be whole.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5)
        >>> [round(float(s(k)), 4) for k in (0, 9, 10, 29, 30)]
        [0.1, 0.0024, 0.05, 0.0003, 0.025]

    Matches ``keras.optimizers.schedules.CosineDecayRestarts`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay") -> None:
        fn = "jaxsched.keras.CosineDecayRestarts"
        lr = check.nonneg(fn, "initial_learning_rate", initial_learning_rate)
        d = _steps(fn, "first_decay_steps", first_decay_steps, integral=True)
        t_mul = check.real(fn, "t_mul", t_mul)
        if t_mul < 1.0:
            raise ValueError(f"{fn}: t_mul must be >= 1, got {t_mul!r} (Keras's lr turns NaN "
                             f"once the shrinking cycles are used up)")
        m_mul = check.unit(fn, "m_mul", m_mul, DECAY)
        alpha = check.unit(fn, "alpha", alpha)
        cycles = Cycles(fn, d, t_mul, check.MAX_COUNT, check.MAX_COUNT)

        def value(k: jax.Array) -> jax.Array:
            k = k.astype(jnp.result_type(int))
            i = cycles.index(k)
            _, rest = cycles.position(k, i)
            c = jnp.sin((math.pi / 2) * rest) ** 2  # (1 + cos(pi x)) / 2 from 1 - x
            return lr * mix(1.0 - alpha, int_pow(m_mul, i) * c, alpha, 1.0)

        self._build(value, dict(initial_learning_rate=lr, first_decay_steps=d, t_mul=t_mul,
                                m_mul=m_mul, alpha=alpha, name=_name(fn, name)))
