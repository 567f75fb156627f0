"""Keras 3.15.1's cosine schedules (``CosineDecay``, ``CosineDecayRestarts``) as jaxsched
schedules; see ``jaxsched.keras.schedules``."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, idiv, imod, is_x64, mix, to_float
from jaxsched.core.wide import in_x64
from jaxsched.keras.base import KerasSchedule, _alpha, _cosine, _left, _lr, _name, _steps
from jaxsched.keras.steps import Restarts, TooManyCycles, cycle_left, signed_pow, unusual

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

    A ``t_mul`` so close to 1 that float32 rounds it to 1 (within ~6e-8) and more than
    ``MAX_CYCLES`` cycles start below 2**31-1 (e.g. ``1 + 1e-9`` with ``first_decay_steps``
    1) is not tabulated: Keras's float32 takes ``t_mul == 1`` there (cycles of
    ``first_decay_steps``), which is what jaxsched's float32 computes too (exactly); in
    float64 the cycle index and position come from the closed form ``i = floor(log1p(f
    (t_mul - 1)) / log1p(t_mul - 1))``, ``B_i / d = expm1(i log1p(t_mul - 1)) / (t_mul -
    1)`` (``f = step / first_decay_steps``, the index corrected against the starts), within
    ``~3e-16 f`` of the exact position: no further from the exact value than Keras.
    A ``t_mul`` float32 keeps apart from 1 with that many cycles (e.g. ``1 + 1e-6``) takes
    the same float64 closed form in float32 mode too, evaluated under a scoped
    ``jax.enable_x64`` inside the trace and cast to float32 (float32 alone would place a
    cycle ~100 steps off at 2**31); TPUs, which have no float64, raise when it is traced.

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
        table = near = None
        scoped = False
        if t_mul != 1.0:
            try:
                table = Restarts(fn, d, t_mul)
            except TooManyCycles:
                near = math.log1p(t_mul - 1.0)
                # float32 rounds t_mul to 1: it takes t_mul == 1 (Keras's float32 too);
                # else the float64 closed form in float32 mode as well (scoped x64)
                scoped = float(np.float32(t_mul)) != 1.0
        unusual(fn, notes)

        def value(k: jax.Array) -> jax.Array:
            if scoped and not is_x64():
                return in_x64(lambda: value(k.astype(jnp.int64)))
            k = k.astype(jnp.result_type(int))
            if near is not None and is_x64():
                i, c = _near_one(k, d, t_mul - 1.0, near)
            elif table is not None:
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
            if table is not None and table.exact_to < jnp.iinfo(k.dtype).max:
                out = jnp.where(k > table.exact_to, jnp.nan, out)  # past the table: NaN
            return out

        self._build(value, dict(initial_learning_rate=lr, first_decay_steps=d, t_mul=t_mul,
                                m_mul=m_mul, alpha=alpha, name=_name(fn, name)))


def _near_one(k: jax.Array, d: float, eps: float, log_t: float
              ) -> tuple[jax.Array, jax.Array]:
    """``(i, (1 + cos(pi x)) / 2)`` for ``t_mul = 1 + eps`` (``eps`` exact, tiny): the cycle
    ``i`` and position ``x`` of ``k`` from the closed form in float64, with ``S_j = (t**j -
    1) / eps`` the start of cycle ``j`` in units of ``d`` (``expm1``, no cancellation)."""
    f = divide(k, d) if isinstance(d, int) else to_float(k) / d

    def start(j: jax.Array) -> jax.Array:
        return jnp.expm1(to_float(j) * log_t) / eps

    i = jnp.floor(jnp.log1p(f * eps) / log_t).astype(k.dtype)
    i = jnp.where(start(i) > f, i - 1, i)  # the rounded log may land one cycle off
    i = jnp.where(start(i + 1) <= f, i + 1, i)
    left = (start(i + 1) - f) / jnp.exp(to_float(i) * log_t)  # 1 - x
    s = jnp.sin((math.pi / 2) * left)
    return i, s * s


