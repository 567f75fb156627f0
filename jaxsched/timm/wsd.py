"""timm 1.0.31's WSDLRScheduler (``timm.scheduler.wsd_lr``) as a pure schedule: warmup,
stable (constant, rsqrt or power), then one of timm's decay functions, each computed from the
distance to its zero so it keeps its relative accuracy to the last step."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, mix, to_float
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.timm.phases import assemble, common_checks, cos_weights, log_unit

__all__ = ["DECAY_FNS", "STABLE_FNS", "wsd_lr"]

STABLE_FNS = ("constant", "rsqrt", "power")
DECAY_FNS = ("linear", "1-sqrt", "cosine", "power", "exp")


def _decay_weights(decay_fn: Any, f: jax.Array, rest: jax.Array, power: float, ratio: float
                   ) -> tuple[jax.Array, jax.Array]:
    """``(d(f), 1 - d(f))`` of a WSD decay function at progress ``f`` (``rest = 1 - f``)."""
    if callable(decay_fn):
        d = jnp.asarray(decay_fn(f), f.dtype)
        return d, 1.0 - d
    if decay_fn == "linear":
        return rest, f
    if decay_fn == "1-sqrt":
        r = jnp.sqrt(f)
        return rest / (1.0 + r), r
    if decay_fn == "cosine":
        return cos_weights(f, rest)
    if decay_fn == "power":
        log_f = log_unit(f, rest)
        return -jnp.expm1(power * log_f), jnp.exp(power * log_f)
    log_r = math.log(ratio)  # exp: (r**f - r) / (1 - r)
    return ratio * jnp.expm1(-rest * log_r) / (1 - ratio), -jnp.expm1(f * log_r) / (1 - ratio)


@schedule_factory
def wsd_lr(t_initial: int, decay_t: int, lr_min: float = 0.0, stable_fn: str = "constant",
           stable_timescale: float | None = None, stable_power: float = 0.5,
           decay_fn: str | Callable[[jax.Array], Any] = "1-sqrt", decay_power: float = 0.5,
           decay_ratio: float = 0.1, warmup_t: int = 0, warmup_lr_init: float = 0.0,
           noise_range_t: Any = None, noise_pct: float = 0.67, noise_std: float = 1.0,
           noise_seed: int = 42, *, lr: float, lr_scale: float = 1.0,
           step_zero: str = "construction",
           noise_type: str = "normal") -> Schedule:
    """timm's WSDLRScheduler: warmup, stable, decay.

    ``lr(t) = lr_min + (max(lr * stable(t_s), lr_min) - lr_min) * decay(frac)`` with
    ``t_s = t - warmup_t``, ``frac = min(1, (t_s - (t_initial - decay_t)) / decay_t)`` in
    the last ``decay_t`` steps (``decay = 1`` before). ``stable``: ``constant`` 1, ``rsqrt``
    ``(1 + t_s / timescale)**-0.5``, ``power`` ``(1 + t_s / timescale)**-stable_power``.
    ``decay``: ``linear`` ``1 - f``, ``1-sqrt`` ``1 - sqrt(f)``, ``cosine``, ``power``
    ``1 - f**decay_power``, ``exp`` ``(r**f - r) / (1 - r)`` with ``r = decay_ratio``, or a
    jnp-traceable callable of ``f``. Each is computed from ``1 - f`` near its zero.

    Args:
        t_initial: stable + decay length (>= 1); decay_t: decay length (1..t_initial).
        stable_timescale: defaults to ``warmup_t`` (must then be > 0) for rsqrt / power.
        Others: as ``cosine_lr`` (the warmup is always a prefix).

    Returns:
        A ``jaxsched.Schedule``.

    Raises:
        ValueError / TypeError: where timm raises, and for the ranges above.

    Example:
        >>> from jaxsched import timm
        >>> s = timm.wsd_lr(t_initial=10, decay_t=4, decay_fn="linear", warmup_t=2, lr=0.1)
        >>> [round(float(s(k)), 4) for k in (1, 2, 8, 9, 10, 12)]
        [0.05, 0.1, 0.1, 0.075, 0.05, 0.0]
    """
    fn = "jaxsched.timm.wsd_lr"
    lr, warmup_t, warmup_lr_init, lr_scale, noise = common_checks(
        fn, lr, warmup_t, warmup_lr_init, step_zero, lr_scale,
        (noise_range_t, noise_pct, noise_std, noise_seed, noise_type))
    total = check.phase(fn, "t_initial", t_initial)
    d_t = check.integer(fn, "decay_t", decay_t, minimum=1, maximum=total)
    lr_min = check.nonneg(fn, "lr_min", lr_min)
    check.ordered(fn, "lr_min", lr_min, "lr", lr, check.ANNEAL_UP.replace("torch", "timm"))
    check.choice(fn, "stable_fn", stable_fn, STABLE_FNS)
    if callable(decay_fn):
        try:
            out = jax.eval_shape(decay_fn, jax.ShapeDtypeStruct((), jnp.result_type(float)))
        except Exception as err:
            raise TypeError(f"{fn}: decay_fn must be a jnp-traceable function of the decay "
                            f"progress, got {decay_fn!r}: {err}") from None
        if getattr(out, "shape", None) != ():
            raise TypeError(f"{fn}: decay_fn must return a scalar, got {out!r}")
    else:
        check.choice(fn, "decay_fn", decay_fn, DECAY_FNS)
    ratio = check.real(fn, "decay_ratio", decay_ratio)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"{fn}: decay_ratio must be in (0, 1), got {decay_ratio!r}")
    d_power = check.real(fn, "decay_power", decay_power)
    s_power = check.real(fn, "stable_power", stable_power)
    for name, value in (("decay_power", d_power), ("stable_power", s_power)):
        if value <= 0:
            raise ValueError(f"{fn}: {name} must be > 0, got {value!r}")
    timescale = None
    if stable_fn != "constant":
        timescale = warmup_t if stable_timescale is None else check.real(
            fn, "stable_timescale", stable_timescale)
        if timescale <= 0:
            raise ValueError(f"{fn}: stable_fn={stable_fn!r} needs stable_timescale > 0 (it "
                             f"defaults to warmup_t={warmup_t}), got {timescale!r}")
    sp = 0.5 if stable_fn == "rsqrt" else s_power
    hold = total - d_t

    def main(t: jax.Array) -> jax.Array:
        t_s = t.astype(jnp.result_type(int))  # assemble passes t - warmup_t
        check.reachable(fn, "t_initial", total, t_s)
        top = jnp.asarray(lr, to_float(t_s).dtype)
        if timescale is not None:
            top = lr * jnp.exp(-sp * jnp.log1p(to_float(t_s) / timescale))
        top = jnp.maximum(top, lr_min)
        into = jnp.clip(t_s - hold, 0, d_t)
        d, d_min = _decay_weights(decay_fn, divide(into, d_t), divide(d_t - into, d_t),
                                  d_power, ratio)
        return jnp.where(t_s - hold <= 0, top, mix(top, d, lr_min, d_min))

    params = dict(t_initial=total, decay_t=d_t, lr_min=lr_min, stable_fn=stable_fn,
                  stable_timescale=timescale, stable_power=s_power, decay_fn=decay_fn,
                  decay_power=d_power, decay_ratio=ratio, warmup_t=warmup_t,
                  warmup_lr_init=warmup_lr_init, lr=lr, lr_scale=lr_scale, step_zero=step_zero)
    return assemble(fn, fn, params, main, lr=lr, warmup_t=warmup_t,
                    warmup_lr_init=warmup_lr_init, warmup_target=lr, warmup_prefix=True,
                    step_zero=step_zero, lr_scale=lr_scale,
                    noise=noise)
