"""What every timm 1.0.31 scheduler shares: the linear warmup, the cycle position of
``cycle_mul`` restarts, the shape weights, and the value at count 0.

Positions are integers or exact quotients of integers, as in the rest of jaxsched. timm
finds the cycle of step ``t`` with ``floor(log(1 - t / T * (1 - m), m))`` in float64, which
lands in the previous cycle at some exact boundaries (``m = 3``: step ``4 T`` is the last step
of cycle 1 in timm and the first of cycle 2 in exact arithmetic). Here the cycle starts
``B_j = T (m**j - 1) / (m - 1)`` are computed exactly on the host (rationals, or 60 digits
past ``j = 64``, where no ``B_j`` can be an integer), stored as ``ceil(B_j)`` (an int32) and
``ceil(B_j) - B_j`` (a float in [0, 1)), so ``t >= B_j`` is an integer comparison and the
position in the cycle ``t - B_j`` and the steps left ``B_{j+1} - t`` are an integer plus a
small float, without cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
from jax import lax

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, float_dtype, idiv, imod, int_pow, mix, to_float
from jaxsched.core.schedule import Schedule
from jaxsched.timm.noise import check_noise, in_range, normal_noise

__all__ = ["MAX_CYCLES", "Cycles", "assemble", "common_checks", "log_unit", "noise_params",
           "shape_weights"]

MAX_CYCLES = 1 << 16  # cycle starts tabulated for cycle_mul != 1
STEP_ZERO = ("construction", "formula")


def common_checks(fn: str, lr: Any, warmup_t: Any, warmup_lr_init: Any, step_zero: Any,
                  lr_scale: Any, noise: tuple[Any, Any, Any, Any]
                  ) -> tuple[float, int, float, float, tuple[Any, float, float, int]]:
    """The arguments every timm scheduler takes (timm checks none of them); ``noise`` is
    ``(noise_range_t, noise_pct, noise_std, noise_seed)``."""
    lr = check.nonneg(fn, "lr", lr)
    warmup_t = check.integer(fn, "warmup_t", warmup_t, minimum=0)
    warmup_lr_init = check.nonneg(fn, "warmup_lr_init", warmup_lr_init)
    check.choice(fn, "step_zero", step_zero, STEP_ZERO)
    lr_scale = check.nonneg(fn, "lr_scale", lr_scale)
    return lr, warmup_t, warmup_lr_init, lr_scale, check_noise(fn, *noise)


def noise_params(noise: tuple[Any, float, float, int]) -> dict[str, Any]:
    rng, pct, std, seed = noise
    return dict(noise_range_t=list(rng) if isinstance(rng, tuple) else rng, noise_pct=pct,
                noise_std=std, noise_seed=seed)


class Cycles:
    """Cycle index, position and length of ``t`` for timm's ``t_initial`` / ``cycle_mul`` /
    ``cycle_limit``: ``index(t)`` (saturating at ``cycle_limit``), ``position(t) =
    (t_curr / t_i, (t_i - t_curr) / t_i)`` both as accurate quotients."""

    def __init__(self, fn: str, t_initial: Any, cycle_mul: Any, cycle_limit: Any,
                 span: int) -> None:
        self.t_initial = check.integer(fn, "t_initial", t_initial, minimum=1)
        self.cycle_mul = check.real(fn, "cycle_mul", cycle_mul)
        self.cycle_limit = check.integer(fn, "cycle_limit", cycle_limit, minimum=0)
        if self.cycle_mul < 1.0:
            raise ValueError(
                f"{fn}: cycle_mul must be >= 1, got {self.cycle_mul!r} (timm accepts it, then "
                f"fails with a math domain error once t reaches t_initial / (1 - cycle_mul))")
        self.table: tuple[Any, ...] | None = None
        if self.cycle_mul != 1.0:
            self.table = self._starts(fn, span)

    def _starts(self, fn: str, span: int) -> tuple[Any, ...]:
        """``(ceil(B_j), ceil(B_j) - B_j, T * m**j)`` for ``j = 0 .. n`` where ``B_n`` is the
        first start past ``span`` or ``cycle_limit`` is reached."""
        t, m = self.t_initial, Fraction(self.cycle_mul)
        ceil_b, frac_b, length = [0], [0.0], [float(t)]
        b: Fraction | mpmath.mpf = Fraction(0)
        with mpmath.workdps(60):
            mm = mpmath.mpf(self.cycle_mul)
            for j in range(1, self.cycle_limit + 1):
                if j == 65:  # past here B_j is no integer; 60 digits place it exactly enough
                    b = mpmath.mpf(b.numerator) / b.denominator
                b = b * (m if isinstance(b, Fraction) else mm) + t
                c = math.ceil(b) if isinstance(b, Fraction) else int(mpmath.ceil(b))
                ceil_b.append(c)
                frac_b.append(float(c - b))
                length.append(float(t * mm ** j))
                if c > span:
                    break
                if j >= MAX_CYCLES:
                    raise ValueError(
                        f"{fn}: cycle_mul={self.cycle_mul!r} with t_initial={t} makes more "
                        f"than {MAX_CYCLES} cycles before step {span}; set cycle_limit or a "
                        f"larger cycle_mul")
        return tuple(ceil_b), tuple(frac_b), tuple(length)

    def index(self, t: jax.Array) -> jax.Array:
        """The cycle of ``t >= 0``, at most ``cycle_limit``."""
        if self.table is None:
            return jnp.minimum(idiv(t, self.t_initial), self.cycle_limit)
        reachable = [c for c in self.table[0][1:] if c <= check.MAX_COUNT]
        starts = jnp.asarray(reachable, t.dtype)
        return jnp.searchsorted(starts, t, side="right").astype(t.dtype)

    def position(self, t: jax.Array, i: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(t - B_i) / t_i`` and ``(B_{i+1} - t) / t_i`` in cycle ``i`` (< cycle_limit)."""
        if self.table is None:
            done = imod(t, self.t_initial)
            return (divide(done, self.t_initial),
                    divide(self.t_initial - done, self.t_initial))
        ceil_b, frac_b, length = self.table
        i0 = jnp.minimum(i, len(ceil_b) - 2)
        frac = jnp.asarray(frac_b, float_dtype())
        start = jnp.asarray([min(c, check.MAX_COUNT) for c in ceil_b], t.dtype)[i0]
        done = to_float(t - start) + frac[i0]  # t >= start: no overflow
        # the next start may lie past the count's int type: subtract in floats (exact in
        # float64, both integers below 2**53; float32 keeps 2e-6 of the peak anyway)
        left = jnp.asarray([float(c) for c in ceil_b], float_dtype())[i0 + 1] - to_float(t)
        left = left - frac[i0 + 1]
        t_i = jnp.asarray(length, float_dtype())[i0]
        return done / t_i, left / t_i

    def decay(self, cycle_decay: float, i: jax.Array) -> jax.Array:
        return int_pow(cycle_decay, i)


def log_unit(x: jax.Array, rest: jax.Array) -> jax.Array:
    """``log(x)`` for ``x`` in [0, 1] given both ``x`` and ``rest = 1 - x``: ``log1p(-rest)``
    near 1, where ``log(x)`` would lose relative accuracy, else ``log(x)``. (XLA:CPU's
    float64 ``log1p`` of arguments in (-0.5, -0.3) is off by up to 2.7e-14 relative,
    measured against mpmath, so it is only used for ``rest < 0.25``.)"""
    return jnp.where(rest < 0.25, jnp.log1p(-rest), jnp.log(x))


def k_decayed(x: jax.Array, rest: jax.Array, k: float) -> tuple[jax.Array, jax.Array]:
    """``(x**k, 1 - x**k)`` from ``x`` and ``rest = 1 - x``, each relatively accurate."""
    if k == 1.0:
        return x, rest
    log_x = log_unit(x, rest)
    return jnp.exp(k * log_x), -jnp.expm1(k * log_x)


def cos_weights(x: jax.Array, rest: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``((1 + cos(pi x)) / 2, (1 - cos(pi x)) / 2)`` from ``x`` and ``rest = 1 - x``,
    each from the smaller of the two, so neither loses accuracy near its zero."""
    low = x <= 0.5
    a = jnp.where(low, x, rest) * (math.pi / 2)
    c, s = jnp.cos(a) ** 2, jnp.sin(a) ** 2
    return jnp.where(low, c, s), jnp.where(low, s, c)


def shape_weights(kind: str, x: jax.Array, rest: jax.Array, **kw: float
                  ) -> tuple[jax.Array, jax.Array]:
    """``(w, 1 - w)``: the weight of the cycle's peak and of ``lr_min`` at position ``x``."""
    if kind == "cosine":
        xk, rk = k_decayed(x, rest, kw["k_decay"])
        return cos_weights(xk, rk)
    if kind == "poly":
        _, rk = k_decayed(x, rest, kw["k_decay"])
        p = kw["power"]
        if p == 0.0:  # timm: (1 - x) ** 0 == 1, also at x = 1
            return jnp.ones_like(rk), jnp.zeros_like(rk)
        done = rk == 0  # the cycle's end: weight 0 exactly (p * log(0) is NaN for a p that
        log_r = p * jnp.log(jnp.where(done, 1.0, rk))  # rounds to 0 in float32)
        return (jnp.where(done, 0.0, jnp.exp(log_r)),
                jnp.where(done, 1.0, -jnp.expm1(log_r)))
    if kind == "tanh":  # (1 - tanh(z)) / 2 = sigmoid(-2z), z = lb (1 - x) + ub x
        z = mix(kw["lb"], rest, kw["ub"], x)
        return jax.nn.sigmoid(-2.0 * z), jax.nn.sigmoid(2.0 * z)
    raise ValueError(kind)


def assemble(fn: str, name: str, params: dict[str, Any], main: Callable[[jax.Array], Any], *,
             lr: float, warmup_t: int, warmup_lr_init: float, warmup_target: float,
             warmup_prefix: bool, step_zero: str, lr_scale: float,
             noise: tuple[Any, float, float, int]) -> Schedule:
    """The timm schedule: ``warmup_lr_init + t (target - warmup_lr_init) / warmup_t`` below
    ``warmup_t``, then ``main(t - warmup_t if warmup_prefix else t)``; ``v + v * noise(t)``
    where timm's noise is on (``jaxsched.timm.noise``); times ``lr_scale``. Count 0 is the
    lr the scheduler sets when built (``step_zero='construction'``) or the formula at 0
    (``'formula'``)."""
    w = warmup_t
    initial = (warmup_lr_init if w else lr) * lr_scale
    noise_range, pct, std, seed = noise
    params = dict(params, **noise_params(noise))

    def value(k: jax.Array) -> jax.Array:
        kw = jnp.minimum(k, w)
        if w:
            warm = mix(warmup_lr_init, divide(w - kw, w), warmup_target, divide(kw, w))
        else:
            warm = jnp.zeros((), float_dtype())
        t = jnp.maximum(k - w, 0) if warmup_prefix else jnp.maximum(k, w)
        out = jnp.where(k < w, warm, main(t))
        if noise_range is not None:  # timm seeds with noise_seed + t, t the count passed
            key = jnp.uint32(seed % 2**32) + k.astype(jnp.uint32)
            apply = in_range(noise_range, k)
            draw = lax.cond(apply, lambda s: normal_noise(s, pct, std),
                            lambda s: jnp.zeros((), float_dtype()), key)
            out = jnp.where(apply, out + out * draw, out)
        out = out * lr_scale
        if step_zero == "construction":
            out = jnp.where(k == 0, initial, out)
        return out

    return Schedule(value, name=name, params=params)
