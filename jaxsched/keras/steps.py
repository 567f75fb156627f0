"""Step arithmetic for Keras's schedules, whose step counts (``decay_steps``,
``first_decay_steps``, ``warmup_steps``) may be any positive real, not only whole steps:
signed integer powers, the span of a cycle that ends at a multiple of a fractional
``decay_steps``, and Keras's geometric restarts (``t_mul != 1``) for any
``first_decay_steps`` and ``t_mul > 0``.

As everywhere in jaxsched, positions are differences of exact numbers (an integer count
and a binary float, or rationals tabulated on the host), so the float64 curve keeps its
relative accuracy up to the end of each cycle.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import mpmath

from jaxsched.core import checks as check
from jaxsched.core.exact import (
    float_dtype,
    floor_div,
    idiv,
    imod,
    int_pow,
    is_x64,
    to_float,
    two_prod_err,
)

__all__ = ["MAX_CYCLES", "Restarts", "TooManyCycles", "ceil_span", "cycle_left",
           "floor_steps", "signed_pow", "unusual"]

MAX_CYCLES = 1 << 16  # cycle starts tabulated for t_mul != 1


def unusual(fn: str, notes: list[str]) -> None:
    """One ``UserWarning`` naming the unusual arguments Keras accepts (never an error)."""
    if notes:
        warnings.warn(f"{fn}: {'; '.join(notes)} (Keras accepts this, and so does jaxsched)",
                      UserWarning, stacklevel=3)


def signed_pow(gamma: float, n: jax.Array) -> jax.Array:
    """``gamma ** n`` for any real ``gamma`` and an integer array ``n >= 0``: a negative
    base alternates in sign, as Keras's ``ops.power`` of an integral exponent does."""
    magnitude = int_pow(abs(gamma), n)
    if gamma >= 0:
        return magnitude
    return jnp.where(n % 2 == 1, -magnitude, magnitude)


def _times_minus(c: jax.Array, d: float, k: jax.Array) -> jax.Array:
    """``c * d - k`` for an integral float ``c``, a float ``d`` and an integer array ``k``,
    exact up to one rounding in float64 (Dekker's product residual), plain in float32."""
    p = c * d
    if not is_x64():
        return p - to_float(k)
    return (p - to_float(k)) + two_prod_err(c, jnp.asarray(d, p.dtype), p)


def _dyadic(d: float) -> tuple[int, int] | None:
    """``(m, q)`` with ``d = m / q``, ``q`` a power of two and ``m * q < 2**31`` (2.5, 7.5,
    12.25 ...), for ``d >= 1``; else ``None``."""
    f = Fraction(d)
    m, q = f.numerator, f.denominator
    if d >= 1 and q & (q - 1) == 0 and m * q < 2**31:
        return m, q
    return None


def floor_steps(k: jax.Array, d: float) -> jax.Array:
    """``floor(k / d)`` for a fractional ``d``: ``floor_div`` (exact in float64); in float32,
    where the count itself rounds past 2**24, integer arithmetic for a dyadic ``d``."""
    return cycle_left(k, d)[0]


def cycle_left(k: jax.Array, d: float) -> tuple[jax.Array, jax.Array]:
    """``(i, left)``: the cycle ``i = floor(k / d)`` of ``k`` in cycles of a fractional
    length ``d``, and the steps ``(i + 1) d - k`` left in it (in ``(0, d]``)."""
    md = None if is_x64() else _dyadic(d)
    if md is not None:  # k = m a + b: k q = m (a q) + b q, with b q < m q < 2**31
        m, q = md
        a, bq = idiv(k, m), imod(k, m) * q
        r = imod(bq, m)  # (k q) mod m: k mod d = r / q
        return a * q + idiv(bq, m), to_float(m - r) / q
    i = floor_div(k, d)
    # exact in float64; in float32 past 2**24 the count itself is rounded: kept in (0, d]
    return i, jnp.clip(_times_minus(to_float(i) + 1.0, d, k), 0.0, d)


def ceil_span(k: jax.Array, d: float) -> tuple[jax.Array, jax.Array]:
    """Keras's cycling ``PolynomialDecay`` for a fractional ``d``: ``(rest, span)`` with
    ``span = d * ceil(k / d)`` (``ceil`` taken as 1 at ``k = 0``) and ``rest = span - k``."""
    i, left = cycle_left(k, d)  # left in (0, d]; k is a multiple of d where left == d
    on_multiple = (left == d) & (k > 0)
    c = jnp.where(on_multiple, to_float(i), to_float(i) + 1.0)
    rest = jnp.where(on_multiple, 0.0, left)
    return rest, c * d


class TooManyCycles(ValueError):
    """More than ``MAX_CYCLES`` cycles start below the largest count (``t_mul`` near 1)."""


class Restarts:
    """Keras's ``CosineDecayRestarts`` cycles for ``t_mul != 1``: cycle ``j`` starts at
    ``B_j = d (t**j - 1) / (t - 1)`` and lasts ``d t**j``. The starts are exact rationals
    (60 digits past ``j = 64``) tabulated on the host up to the largest count, stored as
    ``ceil(B_j)`` (integers) and ``ceil(B_j) - B_j`` (floats in [0, 1)). ``0 < t < 1``
    (shrinking cycles, which Keras turns to NaN once they are used up at ``d / (1 - t)``)
    is accepted where that lies past the largest count."""

    def __init__(self, fn: str, d: float, t_mul: float, span: int = check.MAX_COUNT) -> None:
        if t_mul <= 0.0:
            raise ValueError(f"{fn}: t_mul must be > 0, got {t_mul!r} (Keras's lr is NaN from "
                             f"the first restart: log(t_mul) is undefined)")
        total = Fraction(d) / (1 - Fraction(t_mul)) if t_mul < 1 else None
        if total is not None and total <= span:
            raise ValueError(
                f"{fn}: t_mul={t_mul!r} < 1 makes cycles that shrink and are used up at step "
                f"{float(total):.6g} (first_decay_steps / (1 - t_mul)), where Keras's lr turns "
                f"NaN; use t_mul >= 1, or a t_mul close enough to 1 that this lies past "
                f"{span}")
        starts, fracs, lengths = [0], [0.0], [float(d)]
        # growing cycles are tabulated to int64's limit (x64 counts), shrinking ones to span
        top = check.MAX_PY_COUNT if t_mul > 1 else span
        self.exact_to = check.MAX_PY_COUNT  # the last count the table places exactly
        b: Fraction | Any = Fraction(0)
        m = Fraction(t_mul)
        with mpmath.workdps(60):
            mm = mpmath.mpf(t_mul)
            for j in range(1, MAX_CYCLES + 2):
                if j == 65 and isinstance(b, Fraction):
                    b = mpmath.mpf(b.numerator) / b.denominator
                if isinstance(b, Fraction):
                    b = b * m + Fraction(d)
                else:
                    b = b * mm + mpmath.mpf(d)
                c = math.ceil(b) if isinstance(b, Fraction) else int(mpmath.ceil(b))
                starts.append(c)
                fracs.append(float(c - b))
                lengths.append(float(mpmath.mpf(d) * mm ** j))
                if c > top:
                    if top < check.MAX_PY_COUNT:
                        self.exact_to = c - 1
                    break
                if j > MAX_CYCLES and c > check.MAX_COUNT:  # exact past int32, to c - 1
                    self.exact_to = c - 1
                    break
                if j > MAX_CYCLES:
                    raise TooManyCycles(
                        f"{fn}: t_mul={t_mul!r} with first_decay_steps={d!r} makes more than "
                        f"{MAX_CYCLES} cycles before step {span}; jaxsched tabulates at most "
                        f"that many (use a t_mul further from 1)")
        self.starts, self.fracs, self.lengths = starts, fracs, lengths

    def index(self, k: jax.Array) -> jax.Array:
        """The cycle of ``k >= 0``."""
        reachable = [c for c in self.starts[1:] if c <= jnp.iinfo(k.dtype).max]
        return jnp.searchsorted(jnp.asarray(reachable, k.dtype), k, side="right").astype(
            k.dtype)

    def left(self, k: jax.Array, i: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(B_{i+1} - k, d t**i)``: the steps left in cycle ``i`` and its length."""
        # B_{i+1} - k = (min(c, MAX) - k) + (c - min(c, MAX)) - frac: an exact integer
        # difference (the next start may lie past the count's int type) plus small floats
        clipped = [min(c, int(jnp.iinfo(k.dtype).max)) for c in self.starts]
        extra = [float(c - m) - f for c, m, f in zip(self.starts, clipped, self.fracs,
                                                     strict=True)]
        gap = jnp.asarray(clipped, k.dtype)[i + 1] - k
        left = to_float(gap) + jnp.asarray(extra, float_dtype())[i + 1]
        return left, jnp.asarray(self.lengths, float_dtype())[i]
