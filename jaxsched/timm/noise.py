"""timm's lr noise, reproduced draw for draw: ``torch.Generator().manual_seed(noise_seed + t)``
then ``torch.randn(1)`` until ``|noise| < noise_pct``, computed in-graph.

torch's CPU generator is MT19937 seeded with ``seed mod 2**32`` (``init_genrand``); a
``randn`` of one element is Box-Muller on two 53-bit uniforms, each from two 32-bit outputs
(``(hi << 32 | lo) & (2**53 - 1)) * 2**-53``), ``r = sqrt(-2 log1p(-u2))``, ``theta = 2 pi
u1``, returning ``r cos(theta)`` and caching ``r sin(theta)`` for the next call; the float32
tensor's ``.item()`` rounds it. Here the 623-step seeding recurrence runs as a ``lax.scan``,
the state is twisted once (624 outputs: 156 pairs, 312 draws), and the first accepted draw is
taken. ``log1p(-u2)`` is computed as ``log(1 - u2)``, whose argument is exact. In float64 the
noise equals torch's (checked on thousands of seeds); a draw whose float64 value lies within
an ulp of a float32 rounding boundary could round the other way (never seen). In float32
(no float64 or uint64 there) the angle is reduced to an octant exactly and the log taken as
``log1p`` near 0: the noise is within 2 float32 ulps of torch's, so only a draw within that of
``noise_pct`` can be accepted differently (about 1 in 10**7 noisy steps).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxsched.core import checks as check
from jaxsched.core.exact import float_dtype, is_x64

__all__ = ["DRAWS", "NOISE_TYPES", "check_noise", "check_noise_type", "in_range",
           "normal_noise", "uniform_noise"]

N = 624
DRAWS = 312  # normal draws in one twisted state (2 per pair of 53-bit uniforms)


def check_noise(fn: str, noise_range_t: Any, noise_pct: Any, noise_std: Any,
                noise_seed: Any, *, uniform: bool = False) -> tuple[Any, float, float, int]:
    """Validates timm's noise arguments; the range is None, a start ``t >= a`` or
    ``[a, b)``. timm loops forever when no normal draw can pass, and indexes a one-element
    list out of range: both raise here. Uniform noise (``uniform=True``) draws once, so any
    finite ``noise_pct`` is taken."""
    pct = check.real(fn, "noise_pct", noise_pct) if uniform else check.nonneg(
        fn, "noise_pct", noise_pct)
    std = check.nonneg(fn, "noise_std", noise_std)
    seed = check.integer(fn, "noise_seed", noise_seed, minimum=0, maximum=2**63 - 1)
    rng = noise_range_t
    if rng is not None:
        if isinstance(rng, (list, tuple)):
            if len(rng) != 2:
                raise ValueError(f"{fn}: noise_range_t must be a start or a [start, end) pair, "
                                 f"got {rng!r} (timm indexes [1] of it)")
            rng = (check.real(fn, "noise_range_t[0]", rng[0]),
                   check.real(fn, "noise_range_t[1]", rng[1]))
        else:
            rng = check.real(fn, "noise_range_t", rng)
        if uniform:
            pass
        elif pct == 0.0:
            raise ValueError(f"{fn}: noise_pct must be > 0 with noise on: timm redraws until "
                             f"|noise| < noise_pct, forever at 0")
        p_accept = 1.0 if std == 0.0 or uniform else math.erf(pct / (std * math.sqrt(2.0)))
        if p_accept < 1.0 and DRAWS * math.log1p(-p_accept) > math.log(1e-12):
            raise ValueError(
                f"{fn}: noise_pct={pct!r} with noise_std={std!r} accepts {p_accept:.3g} of the "
                f"draws; timm's redraw loop would need more than {DRAWS} draws with "
                f"probability above 1e-12, which this port does not take (use noise_pct >= "
                f"{0.11 * std:.3g})")
    return rng, pct, std, seed


NOISE_TYPES = ("normal", "uniform")


def check_noise_type(fn: str, noise_type: Any, stacklevel: int = 4) -> str:
    """timm's ``noise_type``: ``'normal'``, or any other string for its uniform noise (a
    name other than ``'uniform'`` warns once, at the caller ``stacklevel`` frames up: timm
    takes it silently)."""
    if not isinstance(noise_type, str):
        raise TypeError(f"{fn}: noise_type must be a string ('normal', or any other for "
                        f"timm's uniform noise), got {noise_type!r}")
    if noise_type not in NOISE_TYPES:
        hint = check.did_you_mean(noise_type, NOISE_TYPES)
        warnings.warn(f"{fn}: noise_type {noise_type!r}{hint} is not 'normal': timm draws "
                      f"uniform noise for it", UserWarning, stacklevel=stacklevel)
    return noise_type


def in_range(noise_range_t: Any, t: jax.Array) -> jax.Array:
    """timm's ``_is_apply_noise``: ``a <= t < b`` for a pair, ``t >= a`` for a start."""
    if noise_range_t is None:
        return jnp.zeros(jnp.shape(t), bool)
    x = t.astype(float_dtype())
    if isinstance(noise_range_t, tuple):
        return (noise_range_t[0] <= x) & (x < noise_range_t[1])
    return x >= noise_range_t


def _outputs(seed: jax.Array) -> jax.Array:
    """The first 624 outputs of MT19937 seeded with ``seed`` (uint32), tempered."""
    u32 = jnp.uint32

    def init(prev: jax.Array, j: jax.Array) -> tuple[jax.Array, jax.Array]:
        nxt = u32(1812433253) * (prev ^ (prev >> 30)) + j
        return nxt, nxt

    _, rest = lax.scan(init, seed, jnp.arange(1, N, dtype=u32))
    mt = jnp.concatenate([seed[None], rest])

    def twist(cur: jax.Array, nxt: jax.Array, far: jax.Array) -> jax.Array:
        y = (cur & u32(0x80000000)) | (nxt & u32(0x7FFFFFFF))
        return far ^ (y >> 1) ^ jnp.where((y & 1) == 1, u32(0x9908B0DF), u32(0))

    a = twist(mt[:227], mt[1:228], mt[397:624])  # new[0:227]: old values only
    b = twist(mt[227:454], mt[228:455], a)  # new[227:454] use new[0:227]
    c = twist(mt[454:624], jnp.concatenate([mt[455:624], a[:1]]), b[:170])
    y = jnp.concatenate([a, b, c])
    y = y ^ (y >> 11)
    y = y ^ ((y << 7) & u32(0x9D2C5680))
    y = y ^ ((y << 15) & u32(0xEFC60000))
    return y ^ (y >> 18)


def normal_noise(seed: jax.Array, pct: float, std: float) -> jax.Array:
    """timm's ``_calculate_noise`` for ``noise_type='normal'``: the first of torch's
    ``randn(1).item() * std`` draws (seeded with ``seed``, a uint32) below ``pct`` in
    magnitude."""
    y = _outputs(seed).reshape(-1, 4)  # per pair: u1 = (y0, y1), u2 = (y2, y3)
    dt = float_dtype()
    if is_x64():  # torch's own arithmetic: exact uniforms, one rounding per operation
        def top(hi: jax.Array, lo: jax.Array) -> jax.Array:  # 53-bit integer, exact
            return (hi & 0x1FFFFF).astype(dt) * 2.0**32 + lo.astype(dt)

        u1 = top(y[:, 0], y[:, 1]) * 2.0**-53
        log_rest = jnp.log((2.0**53 - top(y[:, 2], y[:, 3])) * 2.0**-53)  # 1 - u2, exact
        theta = (2.0 * math.pi) * u1
        cos, sin = jnp.cos(theta), jnp.sin(theta)
    else:  # float32: keep each piece accurate to a float32 ulp or two
        hi2, lo2 = (y[:, 2] & 0x1FFFFF).astype(dt), y[:, 3].astype(dt)
        u2 = hi2 * 2.0**-21 + lo2 * 2.0**-53
        rest = (2.0**21 - 1.0 - hi2) * 2.0**-21 + (2.0**32 - lo2) * 2.0**-53  # 1 - u2
        log_rest = jnp.where(u2 < 0.25, jnp.log1p(-u2), jnp.log(rest))
        hi = (y[:, 0] & 0x1FFFFF).astype(dt) * 2.0**-21  # exact; u1 = hi + lo
        quarter = jnp.round(4.0 * hi)  # cos(2 pi u1) = cos(quarter pi/2 + phi)
        phi = (2.0 * math.pi) * ((hi - quarter / 4.0) + y[:, 1].astype(dt) * 2.0**-53)
        c, s = jnp.cos(phi), jnp.sin(phi)
        q = quarter.astype(jnp.int32) % 4
        cos = jnp.select([q == 0, q == 1, q == 2], [c, -s, -c], s)
        sin = jnp.select([q == 0, q == 1, q == 2], [s, c, -s], -c)
    r = jnp.sqrt(-2.0 * log_rest)
    draws = jnp.stack([r * cos, r * sin], axis=1).reshape(-1)
    noise = draws.astype(jnp.float32).astype(dt) * std  # the float32 tensor's .item()
    first = jnp.argmax(jnp.abs(noise) < pct)
    return noise[first]


def uniform_noise(seed: jax.Array, pct: float) -> jax.Array:
    """timm's ``_calculate_noise`` for any ``noise_type`` but ``'normal'``: ``2 *
    (torch.rand(1).item() - 0.5) * pct``, torch's float32 uniform being the first MT19937
    output's low 24 bits times ``2**-24`` (exact in both dtypes)."""
    u = (_outputs(seed)[0] & 0xFFFFFF).astype(float_dtype()) * 2.0**-24
    return (2.0 * (u - 0.5)) * pct
