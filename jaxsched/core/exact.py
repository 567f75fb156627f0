"""Exact-arithmetic building blocks shared by every origin.

Schedules compute phase positions, cycle indices and remaining steps on the integer count
(``k mod T``, ``T - k``) and turn them into floats only as quotients of integers, so that:

* a quotient is correctly rounded in float64 (``divide``) where it is amplified. XLA:CPU
  divides by a constant with a reciprocal multiply, one ulp off for about 1 quotient in 5
  (measured: ``bench/division.md``); through a ``floor``, a cycle count or a far phase that
  error grows. ``divide`` costs about 3x a plain division; it is used only there.
* a value that approaches zero is computed from the distance to its zero, never as a
  difference of numbers near 1 (``half_cos``: ``(1 + cos(pi x)) / 2`` as
  ``sin(pi (1 - x) / 2)**2`` with ``1 - x`` an integer quotient), so it keeps its relative
  accuracy in the last steps of a decay to a zero floor.
* interpolations are weighted sums of non-negative terms (``mix``), whose accuracy does not
  depend on whether XLA contracts ``a*b + c`` into one fused multiply-add.
* integer powers ``gamma**n`` (``int_pow``) are XLA's float64 ``pow``, correctly rounded on
  every sample measured, at any ``n`` up to 2**31-1; a float32 growth is a product of four
  powers tabulated exactly on the host (one per byte of ``n``), within 2.1e-7 relative.

In float32 the same forms keep every result within a few float32 ulps of the exact value.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
from jax.typing import ArrayLike

__all__ = ["divide", "half_cos", "half_cos_turns", "idiv", "imod", "int64_counts", "int_pow",
           "is_x64", "mix", "piecewise_linear", "to_float", "two_prod_err", "floor_div"]


_COMPUTE: contextvars.ContextVar[Any] = contextvars.ContextVar("jaxsched_compute", default=None)


def float_dtype() -> Any:
    """The dtype schedules compute in: float64 under ``jax_enable_x64``, else float32; inside
    ``computing_in(dtype)`` that dtype (a wide count's evaluation: 64-bit integer counts under
    a scoped x64, the caller's float formulas)."""
    dtype = _COMPUTE.get()
    return jnp.result_type(float) if dtype is None else dtype


@contextlib.contextmanager
def computing_in(dtype: Any) -> Iterator[None]:
    """Schedules traced inside compute their floats in ``dtype`` (None: JAX's default float
    again), whatever ``jax_enable_x64`` says; their integer counts stay JAX's default int."""
    token = _COMPUTE.set(None if dtype is None else jnp.dtype(dtype))
    try:
        yield
    finally:
        _COMPUTE.reset(token)


def is_x64() -> bool:
    return float_dtype() == jnp.float64


def int64_counts() -> bool:
    """Whether counts are int64 here (a schedule's count is JAX's default int): under x64,
    and inside a wide count's scoped x64 whatever the float dtype."""
    return jnp.dtype(jnp.result_type(int)).itemsize == 8


def to_float(x: ArrayLike) -> jax.Array:
    """Casts an integer array to the schedule float dtype."""
    return jnp.asarray(x).astype(float_dtype())


_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for float64


def _split(a: Any, split: float = _SPLIT) -> tuple[Any, Any]:
    t = a * split
    hi = t - (t - a)
    return hi, a - hi


def _two_prod_err(a: Any, b: Any, p: Any, split: float = _SPLIT) -> Any:
    """``a * b - p`` exactly, for ``p = fl(a * b)`` (Dekker; every partial product is exact,
    so a fused multiply-add gives the same result). ``split`` is Veltkamp's splitter for the
    operands' precision: ``2**27 + 1`` for float64 (the default), ``2**12 + 1`` for
    float32."""
    a_hi, a_lo = _split(a, split)
    b_hi, b_lo = _split(b, split)
    return ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


two_prod_err = _two_prod_err  # public name, for exact product tests elsewhere


def divide(num: ArrayLike, den: ArrayLike) -> jax.Array:
    """``num / den`` for integer ``num`` and positive integer ``den`` (a Python int or an
    integer array), correctly rounded in float64 as Python's ``float(num) / float(den)`` is.

    The three floats nearest the approximate quotient are tested with an exact residual
    (Dekker's two-product) and the nearest to the true quotient wins. Both arguments must be
    below 2**53. In float32 this is a plain division (within a float32 ulp or two).
    """
    x = to_float(num)
    d = float(den) if isinstance(den, int) else to_float(den)
    q = x / d
    if not is_x64():
        return q

    def residual(c: jax.Array) -> jax.Array:  # |x - c*d|, exactly (Sterbenz: x - p is exact)
        p = c * d
        return jnp.abs((x - p) - _two_prod_err(c, d, p))

    down, up = jnp.nextafter(q, -jnp.inf), jnp.nextafter(q, jnp.inf)
    r_q, r_down, r_up = residual(q), residual(down), residual(up)
    best = jnp.where(r_down < r_q, down, q)
    return jnp.where(r_up < jnp.minimum(r_q, r_down), up, best)


def half_cos_turns(j: ArrayLike, den: int, turns: float) -> jax.Array:
    """``(1 + cos(pi * turns * j / den)) / 2`` for an integer array ``j >= 0``, a positive
    int ``den`` and any float ``turns``, with the angle reduced modulo ``2 pi`` exactly.

    float64: ``j / den`` as a double-double (correctly rounded quotient plus its exact
    residual), times ``turns`` as a double-double (Dekker), reduced by an even integer
    (exact), leaves the phase ``t`` in [-1, 1] to ~1e-30; the result is
    ``sin(pi (1 - |t|) / 2)**2``, relatively accurate up to the cosine's zeros. Python's and
    ``transformers``' ``cos(pi * turns * j / den)`` lose ``|angle| * 1e-16`` absolute, 1e-7 at
    counts of 10**9. float32: the plain formula.
    """
    if not is_x64():
        return 0.5 * (1.0 + jnp.cos(math.pi * turns * (to_float(j) / den)))
    x = to_float(j)
    d = float(den)
    hi = divide(j, den)
    p = hi * d
    lo = ((x - p) - _two_prod_err(hi, d, p)) / d  # x - p is exact (Sterbenz)
    big = turns * hi
    small = _two_prod_err(turns, hi, big) + turns * lo
    u = big - 2.0 * jnp.round(big / 2.0)  # exact: both are multiples of ulp(big) <= 1
    sign = jnp.where(u < 0, -1.0, 1.0)
    rest = (1.0 - sign * u) - sign * small  # 1 - |t|, without cancellation
    s = jnp.sin((math.pi / 2) * rest)
    return s * s


def half_cos(rest: ArrayLike, den: ArrayLike) -> jax.Array:
    """``(1 + cos(pi * x)) / 2`` for ``x = 1 - rest / den``, as ``sin(pi/2 * rest/den)**2``.

    ``rest`` is the integer distance to the cosine's zero, so the result keeps its relative
    accuracy as it approaches 0 (``rest`` -> 0), and is exactly 0 there. The quotient need
    not be correctly rounded: an ulp in it is an ulp or two in the result.
    """
    if isinstance(den, int):  # one multiply by a host constant: as accurate, cheaper
        s = jnp.sin(to_float(rest) * (math.pi / (2 * den)))
    else:
        s = jnp.sin((math.pi / 2) * (to_float(rest) / to_float(den)))
    return s * s


def _int_operands(k: ArrayLike, d: ArrayLike) -> tuple[jax.Array, jax.Array | None]:
    k = jnp.asarray(k)
    if isinstance(d, int):
        if d > jnp.iinfo(k.dtype).max:  # beyond every count: quotient 0, remainder k
            return k, None
        return k, jnp.asarray(d, k.dtype)
    return k, jnp.asarray(d).astype(k.dtype)


def _unsigned(op: Callable[[jax.Array, jax.Array], jax.Array], k: jax.Array,
              d: jax.Array) -> jax.Array:
    """``op`` on ``k >= 0, d >= 1`` as unsigned integers: XLA's signed division and remainder
    guard ``INT_MIN / -1`` and a zero divisor with selects, which cost about half of optax's
    whole cosine step on XLA:CPU (``bench/counts.py``); the unsigned ones do not."""
    if not jnp.issubdtype(k.dtype, jnp.signedinteger):
        return op(k, d)
    u = jnp.dtype(k.dtype.name.replace("int", "uint"))
    return op(k.astype(u), d.astype(u)).astype(k.dtype)


def idiv(k: ArrayLike, d: ArrayLike) -> jax.Array:
    """``k // d`` for integer ``k >= 0`` and ``d >= 1``: one truncating division, which is
    the floor here, without the sign corrections of ``jnp.floor_divide`` (they cost about a
    tenth of a jitted SGD step on a few parameters). A Python ``d`` past the count's dtype
    gives 0."""
    k, d = _int_operands(k, d)
    return jnp.zeros_like(k) if d is None else _unsigned(jax.lax.div, k, d)


def imod(k: ArrayLike, d: ArrayLike) -> jax.Array:
    """``k % d`` for integer ``k >= 0`` and ``d >= 1`` (``lax.rem``; see ``idiv``)."""
    k, d = _int_operands(k, d)
    return k if d is None else _unsigned(jax.lax.rem, k, d)


def mix(a: ArrayLike, wa: ArrayLike, b: ArrayLike, wb: ArrayLike) -> jax.Array:
    """``a * wa + b * wb``: an interpolation from weights that were each computed from
    integers (``wa + wb = 1`` exactly in value), so no term cancels for ``a, b >= 0``."""
    return a * wa + b * wb


def int_pow(gamma: float, n: ArrayLike) -> jax.Array:
    """``gamma ** n`` for a Python float ``gamma`` and an integer array ``n >= 0``; a negative
    ``gamma`` gives ``(-1)**n * |gamma|**n`` (the sign from ``n``'s parity).

    float64: XLA's ``pow``, which matched the exact power to the last bit on every sample
    measured (counts up to 2**31-1), exact powers (``0.5 ** 3``) included. float32, a decay
    (``gamma < 1``): ``2 ** (n * log2(gamma))`` with the log taken in float64 on the host
    (XLA's ``pow`` of the exact base 2 is cheaper than its ``exp``), within 4.4e-8 of the
    curve's peak at any ``n``. float32, a growth (``gamma > 1``): the product of four
    powers ``gamma ** (j 256**b)``, one per byte of ``n``, each rounded from the exact power
    on the host: within 2.1e-7 relative at any ``n`` (the single ``pow``'s rounded exponent
    was 2e-6 off at 48 doublings). ``gamma**0 = 1``.
    """
    n = jnp.asarray(n)
    if gamma < 0.0:  # a negative base alternates: the sign from n's parity, exactly
        magnitude = int_pow(-gamma, n)
        return jnp.where(n % 2 == 1, -magnitude, magnitude)
    if gamma == 0.0:
        return jnp.where(n == 0, 1.0, 0.0).astype(float_dtype())
    if not is_x64():
        if gamma > 1.0:
            # growth: the rounding of y = n log2(gamma) is y 2**-24 absolute, which 2**y
            # turns into y 2**-24 ln 2 relative (2e-6 at 48 doublings, reached by a range
            # test from 1e-7 to 10). A product of correctly rounded powers, one per byte of
            # n (four; eight for a wide count's int64), stays within 3.5 ulp (2.1e-7) at any
            # n where the product is finite. (For gamma < 1 the value falls as fast as the
            # error grows: at most 4.4e-8 of the peak.)
            size = n.dtype.itemsize
            tables = jnp.asarray(_byte_powers(gamma, size), jnp.float32)
            u = n.astype(jnp.uint64 if size == 8 else jnp.uint32)
            out = tables[0][u & 255]
            for b in range(1, size):
                out = out * tables[b][(u >> (8 * b)) & 255]
            return out
        return jnp.power(jnp.float32(2.0), to_float(n) * math.log2(gamma))
    return jnp.where(n == 0, 1.0, jnp.power(gamma, to_float(n)))


@functools.lru_cache(maxsize=64)
def _byte_powers(gamma: float, size: int = 4) -> tuple[tuple[float, ...], ...]:
    """``gamma ** (j 256**b)`` for ``b < size``, ``j < 256``, rounded to float32 (inf past
    its range) from the exact power, on the host."""
    big = float(np.finfo(np.float32).max)
    g = mpmath.mpf(gamma)
    rows = []
    for b in range(size):
        row = []
        for j in range(256):
            with mpmath.workprec(80):
                v = g ** (j * 256**b)
            row.append(float(np.float32(float(v))) if v <= big else math.inf)
        rows.append(tuple(row))
    return tuple(rows)


def floor_div(t: jax.Array, d: float) -> jax.Array:
    """``floor(t / d)`` for an integer array ``t >= 0`` and a float ``d > 0``, exact in
    float64 (the rounded quotient corrected by an exact product test); an integral ``d`` is
    ``idiv``. Used where a reference floors by a fractional interval (timm, Keras)."""
    if float(d).is_integer():
        return idiv(t, int(d))
    x = to_float(t)
    q = jnp.floor(x / d)
    if not is_x64():
        return q.astype(t.dtype)

    def below(c: jax.Array) -> jax.Array:  # c * d <= x, exactly
        p = c * d
        return (x - p) - _two_prod_err(c, jnp.asarray(d, x.dtype), p) >= 0

    q = jnp.where(below(q), q, q - 1)
    q = jnp.where(below(q + 1), q + 1, q)
    return q.astype(t.dtype)


def piecewise_linear(k: jax.Array, starts: tuple[int, ...], values: tuple[int, ...],
                     slopes: tuple[int, ...]) -> jax.Array:
    """A continuous, piecewise linear, non-decreasing integer function of ``k >= 0``:
    ``values[j] + slopes[j] (k - starts[j])`` on segment ``j`` (``starts[0] = 0``, slopes
    growing), in ``k``'s dtype (the caller keeps ``k`` where the value fits).

    Past the last start (almost every step of a run: a batch-size ramp ends early) it is one
    multiply-add; on the ramp, ``sum_j (slopes[j] - slopes[j-1]) max(k - starts[j], 0)``,
    every partial sum at most the value (no overflow), a few vector ops instead of a search
    and gathers; the two are selected (a ``lax.cond`` for a scalar count measured no faster
    in a scanned step, ``bench/counts.py``).
    """
    dt = k.dtype

    def tail(k: jax.Array) -> jax.Array:
        return jnp.asarray(values[-1], dt) + jnp.asarray(slopes[-1], dt) * (k - starts[-1])

    if len(starts) == 1:
        return tail(k)
    steps = jnp.asarray([slopes[0], *(b - a for a, b in pairwise(slopes))], dt)

    def on_ramp(k: jax.Array) -> jax.Array:
        return jnp.sum(steps * jnp.maximum(k[..., None] - jnp.asarray(starts, dt), 0), axis=-1,
                       dtype=dt)

    return jnp.where(k >= starts[-1], tail(k), on_ramp(k))
