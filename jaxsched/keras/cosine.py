"""Keras 3.15.1's cosine schedules (``CosineDecay``, ``CosineDecayRestarts``) as jaxsched
schedules; see ``jaxsched.keras.schedules``."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, idiv, imod, mix, to_float
from jaxsched.keras.base import KerasSchedule, _alpha, _cosine, _left, _lr, _name, _steps
from jaxsched.keras.steps import Restarts, cycle_left, signed_pow, unusual

__all__ = ["CosineDecay", "CosineDecayRestarts"]


class CosineDecay(KerasSchedule):
    """Keras's CosineDecay: with ``warmup_target=None``, ``initial * ((1 - alpha) * (1 +
    cos(pi min(step, decay_steps) / decay_steps)) / 2 + alpha)``; with a ``warmup_target``,
    a linear warmup from ``initial`` to it over ``warmup_steps``, then that cosine from the
    target (``warmup_steps`` is ignored without a target, as in Keras).

    The cosine is computed from the steps left (``sin**2``), so it keeps its relative
    accuracy to the last step before an ``alpha = 0`` floor. As in Keras, ``decay_steps``
    and ``warmup_steps`` may be fractional, ``alpha`` above 1 makes the cosine rise, and a
    negative ``warmup_steps`` starts the decay that many steps in.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.CosineDecay(0.0, 100, alpha=0.1, warmup_target=1e-3, warmup_steps=10)
        >>> [round(float(s(k)), 6) for k in (0, 5, 10, 60, 110, 500)]
        [0.0, 0.0005, 0.001, 0.00055, 0.0001, 0.0001]

    Matches ``keras.optimizers.schedules.CosineDecay`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: float = 0) -> None:
        fn, notes = "jaxsched.keras.CosineDecay", []
        lr = _lr(fn, "initial_learning_rate", initial_learning_rate, notes)
        d = _steps(fn, "decay_steps", decay_steps)
        alpha = _alpha(fn, alpha, notes)
        target = None if warmup_target is None else _lr(fn, "warmup_target", warmup_target,
                                                        notes)
        w = check.real(fn, "warmup_steps", warmup_steps)
        if target is not None and w < 0:
            notes.append(f"warmup_steps={warmup_steps!r} is negative (the decay starts "
                         f"{-w:g} steps in)")
        w = int(w) if w.is_integer() and abs(w) <= check.MAX_COUNT else w
        unusual(fn, notes)
        end = d + w  # where the decay ends
        whole = isinstance(d, int) and isinstance(w, int) and abs(end) <= check.MAX_COUNT

        def value(k: jax.Array) -> jax.Array:
            if target is None:
                return lr * _cosine(_left(k, d), d, alpha)
            if whole:  # Keras's min(step, decay_steps + warmup_steps) - warmup_steps
                rest = jnp.clip(end - jnp.minimum(k, max(end, 0)), 0, d)
            else:
                rest = jnp.clip(float(end) - to_float(k), 0.0, float(d))
            decay = target * _cosine(rest, d, alpha)
            if w <= 0:  # Keras's cond never takes the warmup branch
                return decay
            if isinstance(w, int):
                kw = jnp.minimum(k, w)
                warm = mix(lr, divide(w - kw, w), target, divide(kw, w))
                return jnp.where(k < w, warm, decay)
            kf = jnp.minimum(to_float(k), w)
            warm = mix(lr, (w - kf) / w, target, kf / w)
            if math.ceil(w) > check.MAX_COUNT:
                return warm
            return jnp.where(k < math.ceil(w), warm, decay)

        self._build(value, dict(initial_learning_rate=lr, decay_steps=d, alpha=alpha,
                                name=_name(fn, name), warmup_target=target,
                                warmup_steps=warmup_steps))


class CosineDecayRestarts(KerasSchedule):
    """Keras's CosineDecayRestarts (SGDR): cosine cycles of ``first_decay_steps * t_mul**i``
    steps, the ``i``-th scaled by ``m_mul**i``: ``initial * ((1 - alpha) * m_mul**i * (1 +
    cos(pi x)) / 2 + alpha)`` at position ``x`` of cycle ``i``.

    Keras finds the cycle with ``floor(log(1 - f (1 - t_mul)) / log(t_mul))`` in float32 on
    a float32 step, which misplaces cycle starts (and, past 2**24, steps); here the cycle
    starts are exact (``jaxsched.keras.steps.Restarts``). As in Keras, ``first_decay_steps``
    may be fractional, ``m_mul`` above 1 grows each cycle (to inf far out) and a negative one
    alternates the sign; ``t_mul < 1`` (shrinking cycles) is refused where Keras's lr turns
    NaN within the count's range.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.CosineDecayRestarts(0.1, 10, t_mul=2.0, m_mul=0.5)
        >>> [round(float(s(k)), 4) for k in (0, 9, 10, 29, 30)]
        [0.1, 0.0024, 0.05, 0.0003, 0.025]

    Matches ``keras.optimizers.schedules.CosineDecayRestarts`` of Keras 3.15.1.
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: float,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay") -> None:
        fn, notes = "jaxsched.keras.CosineDecayRestarts", []
        lr = _lr(fn, "initial_learning_rate", initial_learning_rate, notes)
        d = _steps(fn, "first_decay_steps", first_decay_steps)
        t_mul = check.real(fn, "t_mul", t_mul)
        m_mul = check.real(fn, "m_mul", m_mul)
        if m_mul < 0:
            notes.append(f"m_mul={m_mul!r} is negative (the lr alternates in sign by cycle)")
        alpha = _alpha(fn, alpha, notes)
        table = None if t_mul == 1.0 else Restarts(fn, d, t_mul)
        unusual(fn, notes)

        def value(k: jax.Array) -> jax.Array:
            k = k.astype(jnp.result_type(int))
            if table is not None:
                i = table.index(k)
                left, length = table.left(k, i)
                c = half_cos(left, length)
            elif isinstance(d, int):
                i = idiv(k, d)
                c = half_cos(d - imod(k, d), d)
            else:
                i, left = cycle_left(k, d)
                c = half_cos(left, d)
            out = lr * mix(1.0 - alpha, signed_pow(m_mul, i) * c, alpha, 1.0)
            if table is not None and table.exact_to < check.MAX_PY_COUNT:
                out = jnp.where(k > table.exact_to, jnp.nan, out)  # past the table: NaN
            return out

        self._build(value, dict(initial_learning_rate=lr, first_decay_steps=d, t_mul=t_mul,
                                m_mul=m_mul, alpha=alpha, name=_name(fn, name)))


