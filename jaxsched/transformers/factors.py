"""The factors of ``transformers``' schedule lambdas (``transformers.optimization``, 5.23.0)
that take more than a line: the warmup ramp, the periodic cosine reduced in integers, the
warmup-stable-decay factor and the cosine with hard restarts. Each is a function of the
integer step ``k``, exact to a few ulps at any count (see ``jaxsched.transformers.schedules``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, half_cos_turns, is_x64, to_float

__all__ = ["Factor", "cosine", "cosine_factor", "hard_restarts", "warmup_factor", "wsd_factor"]

Factor = Callable[[jax.Array], jax.Array]


def warmup_factor(k: jax.Array, w: int) -> jax.Array:
    """``float(k) / float(max(1, w))``."""
    return divide(k, max(1, w))


def cosine(progress: jax.Array, cycles: float) -> jax.Array:
    """``0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress))``."""
    return 0.5 * (1.0 + jnp.cos(math.pi * float(cycles) * 2.0 * progress))


def cosine_factor(j: jax.Array, d: int, cycles: float, shift: int = 0) -> jax.Array:
    """``0.5 * (1 + cos(pi * cycles * 2.0 * (j + shift) / d))`` for an integer ``j >= 0``
    (``shift >= 0``, added without overflowing an int32 ``j`` near 2**31-1; a negative
    warmup ``W`` gives ``shift = -W``).

    The cosine does not stop at the end of training (``transformers`` lets it rise again),
    so it is periodic in ``j``. Where ``2 * cycles`` is a ratio ``P / Q`` of small integers
    exactly (a short binary fraction), the angle ``pi * P * j / (Q d)`` is reduced modulo
    ``2 pi`` in integers and the factor is ``sin(pi n / (2 Q d))**2`` with ``n`` the integer
    distance to the cosine's zero: exact at any count. Otherwise float64 reduces the angle in
    double-double arithmetic (``jaxsched.exact.half_cos_turns``), also exact; float32 takes
    the nearest ratio of small integers, whose phase is float32-exact near the start, and
    keeps float32's phase error far out.
    """
    exact = Fraction(2 * cycles)
    ratio = exact if exact.denominator <= 64 and abs(exact.numerator) <= 64 else None
    near = exact.limit_denominator(64)
    if ratio is None and not is_x64() and abs(float(near) - 2 * cycles) <= 1e-15 * max(
            1.0, abs(2 * cycles)):
        ratio = near
    if ratio is not None and ratio.numerator != 0:
        big_p, big_q = abs(ratio.numerator), ratio.denominator
        half = big_q * d  # a half period of the angle, in units of pi / (Q d)
        if 2 * half * big_p <= (2**62 if is_x64() else check.MAX_COUNT):
            s = shift % (2 * half)
            r = jnp.remainder(j, 2 * half)  # (r + s) mod 2 half, without overflow:
            r = jnp.where(r >= 2 * half - s, r - (2 * half - s), r + s)
            m = jnp.remainder(r * big_p, 2 * half)
            return half_cos(jnp.abs(half - m), half)
    if is_x64():  # any other cycle count: the angle reduced in double-double arithmetic
        return half_cos_turns(j + shift, d, 2 * cycles)
    return cosine((to_float(j) + shift) / d, cycles)


def wsd_factor(k: jax.Array, *, warmup: int, stable: int, decay: int, warmup_type: str,
               decay_type: str, min_lr_ratio: float, num_cycles: float) -> jax.Array:
    """The factor of ``transformers``' warmup-stable-decay lambda at step ``k``.

    Warmup ``p = k / max(1, warmup)``: linear ``p``, cosine ``(1 - cos(pi p)) / 2``, 1-sqrt
    ``1 - sqrt(1 - p)``; stable 1; decay ``p = (k - warmup - stable) / max(1, decay)``:
    linear ``1 - p``, cosine ``(1 + cos(2 pi cycles p)) / 2``, 1-sqrt ``1 - sqrt(p)``, or
    (an extension, not in ``transformers``) exponential ``min_lr_ratio ** p``; warmup and
    decay factors ``f`` become ``max(0, f * (1 - r) + r)``; after the decay, ``r``.
    """
    r = min_lr_ratio
    top = max(warmup, 0)  # a negative warmup (transformers accepts it) never holds k < W
    if warmup_type == "linear":
        up = warmup_factor(k, warmup)
    elif warmup_type == "cosine":  # (1 - cos(pi p)) / 2 = sin(pi p / 2)**2
        up = half_cos(jnp.clip(k, 0, top), max(1, warmup))
    else:  # 1 - sqrt(1 - p) = p / (1 + sqrt(1 - p)), no cancellation near p = 0
        up = warmup_factor(k, warmup) / (1.0 + jnp.sqrt(divide(top - jnp.minimum(k, top),
                                                           max(1, warmup))))
    i = _past(k, warmup + stable, max(decay, 0))
    q = divide(i, max(1, decay))
    rest = divide(jnp.maximum(decay - i, 0), max(1, decay))  # 1 - q, from integers
    if decay_type == "linear":
        down = rest
    elif decay_type == "cosine":
        down = cosine_factor(i, max(1, decay), num_cycles)
    elif decay_type == "1-sqrt":  # 1 - sqrt(q) = (1 - q) / (1 + sqrt(q))
        down = rest / (1.0 + jnp.sqrt(q))
    else:  # exponential, from 1 to r
        down = jnp.power(r, q)
    if decay_type != "exponential":
        down = jnp.maximum(0.0, down * (1.0 - r) + r)
    factor = jnp.where(_below(k, warmup + stable), 1.0,
                       jnp.where(_below(k, warmup + stable + decay), down, r))
    return jnp.where(_below(k, warmup), jnp.maximum(0.0, up * (1.0 - r) + r), factor)


def _below(k: jax.Array, c: int) -> jax.Array:
    """``k < c`` for a count ``k >= 0`` and a Python int ``c`` of any size (a negative
    warmup makes the phase boundaries negative, or past the count type's range)."""
    if c <= 0:
        return jnp.zeros(jnp.shape(k), bool)
    if c > jnp.iinfo(k.dtype).max:
        return jnp.ones(jnp.shape(k), bool)
    return k < c


def _past(k: jax.Array, a: int, n: int) -> jax.Array:
    """``clip(k - a, 0, n)`` for a count ``k >= 0``, Python ints ``a`` (any sign) and ``n >= 0``,
    without overflowing ``k``'s integer type."""
    if a + n <= 0:
        return jnp.full(jnp.shape(k), n, k.dtype)
    if a <= 0:
        return jnp.minimum(k, a + n) - a
    if a > jnp.iinfo(k.dtype).max:
        return jnp.zeros(jnp.shape(k), k.dtype)
    return jnp.clip(k - a, 0, n)


def hard_restarts(w: int, d: int, cycles: float) -> Factor:
    """``transformers``' cosine with hard restarts, ``0.5 * (1 + cos(pi * ((cycles * p) %
    1.0)))`` with ``p = j / d``. Where ``cycles`` is a ratio ``P / Q`` of small integers (an
    integer, 1.5, 0.25, -2, ...), from the exact integer position ``(P j) mod (Q d)`` (floor
    modulo, as Python's ``%`` of a negative product): at an exact restart that is 0 and the
    factor 1, the intended restart to the full lr (the float product in ``transformers``
    lands on the integer or one ulp below it, and gives 1 or ~0 accordingly: a rounding
    accident not reproduced). Otherwise (or where ``P Q d`` exceeds the integer range), the
    position is a float product, as ``transformers`` computes it."""
    exact = Fraction(cycles)
    ratio = exact if exact.denominator <= 64 else None
    big_p = 0 if ratio is None else ratio.numerator
    span = 0 if ratio is None else ratio.denominator * d

    def factor(k: jax.Array) -> jax.Array:
        j = _past(k, w, d)  # clip(k - w, 0, d), without overflowing for a negative w
        # the mode at evaluation (a schedule built without x64 may be evaluated with it)
        if ratio is not None and abs(big_p) * span <= (2**62 if is_x64() else check.MAX_COUNT):
            r = jnp.remainder(j * big_p, span)  # (P j) mod (Q d), exact
            cosine = half_cos(span - r, span)
        else:
            frac = jnp.mod(cycles * divide(j, d), 1.0)
            cosine = jnp.maximum(0.0, 0.5 * (1.0 + jnp.cos(math.pi * frac)))
        return jnp.where(k < w, warmup_factor(k, w), jnp.where(j >= d, 0.0, cosine))

    return factor
