"""What every timm 1.0.31 scheduler shares: the linear warmup, the cycle position of
``cycle_mul`` restarts, the shape weights, and the value at count 0.

The cycle arithmetic of ``cycle_mul`` restarts is ``jaxsched.core.cycles.Cycles`` (Keras's
CosineDecayRestarts uses it too); the rest is here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxsched.core import checks as check
from jaxsched.core.cycles import MAX_CYCLES, Cycles
from jaxsched.core.exact import divide, float_dtype, is_x64, mix
from jaxsched.core.schedule import Schedule
from jaxsched.timm.noise import (
    check_noise,
    check_noise_type,
    in_range,
    normal_noise,
    uniform_noise,
)

__all__ = ["MAX_CYCLES", "Cycles", "assemble", "common_checks", "log_unit", "noise_params",
           "shape_weights"]

STEP_ZERO = ("construction", "formula")


def common_checks(fn: str, lr: Any, warmup_t: Any, warmup_lr_init: Any, step_zero: Any,
                  lr_scale: Any, noise: tuple[Any, ...]
                  ) -> tuple[float, int, float, float, tuple[Any, float, float, int, str]]:
    """The arguments every timm scheduler takes (timm checks none of them); ``noise`` is
    ``(noise_range_t, noise_pct, noise_std, noise_seed[, noise_type])``: timm draws normal
    noise for ``noise_type='normal'`` and uniform noise for any other (its base class's
    attribute, which a loaded state dict sets)."""
    lr = check.nonneg(fn, "lr", lr)
    warmup_t = check.phase(fn, "warmup_t", warmup_t, minimum=0)
    warmup_lr_init = check.nonneg(fn, "warmup_lr_init", warmup_lr_init)
    check.choice(fn, "step_zero", step_zero, STEP_ZERO)
    lr_scale = check.nonneg(fn, "lr_scale", lr_scale)
    kind = check_noise_type(fn, noise[4] if len(noise) > 4 else "normal")
    checked = check_noise(fn, *noise[:4], uniform=kind != "normal")
    return lr, warmup_t, warmup_lr_init, lr_scale, (*checked, kind)


def noise_params(noise: tuple[Any, ...]) -> dict[str, Any]:
    rng, pct, std, seed = noise[:4]
    out = dict(noise_range_t=list(rng) if isinstance(rng, tuple) else rng, noise_pct=pct,
               noise_std=std, noise_seed=seed)
    if len(noise) > 4 and noise[4] != "normal":
        out["noise_type"] = noise[4]
    return out


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
    each from the smaller of the two, so neither loses accuracy near its zero: with ``a =
    pi/2 min(x, rest)`` the small one is ``sin(a)**2`` and the other, at least 1/2, is ``1 -
    sin(a)**2`` without cancellation (one transcendental, as optax's cosine)."""
    low = x <= 0.5
    a = jnp.where(low, x, rest) * (math.pi / 2)
    s = jnp.sin(a) ** 2
    c = 1.0 - s
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
             noise: tuple[Any, ...]) -> Schedule:
    """The timm schedule: ``warmup_lr_init + t (target - warmup_lr_init) / warmup_t`` below
    ``warmup_t``, then ``main(t - warmup_t if warmup_prefix else t)``; ``v + v * noise(t)``
    where timm's noise is on (``jaxsched.timm.noise``); times ``lr_scale``. Count 0 is the
    lr the scheduler sets when built (``step_zero='construction'``) or the formula at 0
    (``'formula'``)."""
    w = warmup_t
    initial = (warmup_lr_init if w else lr) * lr_scale
    noise_range, pct, std, seed = noise[:4]
    uniform = len(noise) > 4 and noise[4] != "normal"
    params = dict(params, **noise_params(noise))

    def value(k: jax.Array) -> jax.Array:
        check.reachable(fn, "warmup_t", w, k)
        kw = jnp.minimum(k, w)
        if w:
            f = divide(kw, w)
            warm = mix(warmup_lr_init, divide(w - kw, w) if is_x64() else 1.0 - f,
                       warmup_target, f)
        else:
            warm = jnp.zeros((), float_dtype())
        t = jnp.maximum(k - w, 0) if warmup_prefix else jnp.maximum(k, w)
        out = jnp.where(k < w, warm, main(t))
        if noise_range is not None:  # timm seeds with noise_seed + t, t the count passed
            key = jnp.uint32(seed % 2**32) + k.astype(jnp.uint32)
            apply = in_range(noise_range, k)
            draw = lax.cond(apply, (lambda s: uniform_noise(s, pct)) if uniform else (
                                lambda s: normal_noise(s, pct, std)),
                            lambda s: jnp.zeros((), float_dtype()), key)
            out = jnp.where(apply, out + out * draw, out)
        if lr_scale != 1.0:
            out = out * lr_scale
        # with a warmup and no noise the formula at 0 is warmup_lr_init * lr_scale already
        if step_zero == "construction" and (not w or noise_range is not None):
            out = jnp.where(k == 0, initial, out)
        return out

    return Schedule(value, name=name, params=params)
