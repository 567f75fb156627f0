"""Megatron-core 0.16.1's ``OptimizerParamScheduler`` formulas (``get_lr``, ``get_wd``) as
pure schedules of ``num_steps``, the count Megatron advances by ``increment`` per iteration
(1, or the global batch size when it counts samples).

``s(n)`` is the value Megatron sets with ``num_steps == n``; the lr of iteration ``k`` is
``s(k * increment)`` (the constructor's ``step(0)`` sets ``s(0)``). Megatron computes in
Python float64 from ``float(num_steps) / float(steps)``; here positions are integers and the
decays are computed from the steps left, so each is exact to the last step before a zero.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, is_x64, mix, to_float
from jaxsched.core.schedule import Schedule, schedule_factory

__all__ = ["DECAY_STYLES", "WD_INCR_STYLES", "WSD_DECAY_STYLES", "lr_schedule", "wd_schedule"]

DECAY_STYLES = ("constant", "linear", "cosine", "inverse-square-root", "WSD")
WSD_DECAY_STYLES = ("linear", "cosine", "exponential", "minus_sqrt")
WD_INCR_STYLES = ("constant", "linear", "cosine")


def _warmup_steps(fn: str, steps: Any, decay: int) -> int | float:
    """``lr_warmup_steps`` in [0, decay): an int, or a float when Megatron-LM derives it as
    ``lr_warmup_fraction * lr_decay_steps`` and the product is not integral."""
    value = check.nonneg(fn, "lr_warmup_steps", steps)
    if value >= decay:
        raise ValueError(f"{fn}: lr_warmup_steps must be < lr_decay_steps={decay} (Megatron "
                         f"asserts), got {steps!r}")
    return int(value) if float(value).is_integer() else float(value)


def _weights(style: str, rest: jax.Array, span: float) -> tuple[jax.Array, jax.Array]:
    """``(coeff, 1 - coeff)`` of a decay at ``r = 1 - rest / span``, each from the smaller
    side: linear ``1 - r``, cosine ``(1 + cos(pi r)) / 2``, exponential ``2 * 0.5**r - 1``,
    minus_sqrt ``1 - sqrt(r)``. A float ``span`` (after a fractional warmup) is one rounding
    of ``decay - warmup``; its quotients are plain divisions."""
    if isinstance(span, float):
        left, done = to_float(rest) / span, (span - to_float(rest)) / span
    else:
        left = divide(rest, span)  # 1 - r
        done = divide(span - rest, span)  # r
    if style == "linear":
        return left, done
    if style == "cosine":
        c = half_cos(rest, span)
        # float32's tolerance is of the peak: one sine, the other weight as 1 - c (exact
        # in float32 for c >= 1/2, within 2**-25 absolute below); float64 both from sines
        return c, (half_cos(span - rest, span) if is_x64() else 1.0 - c)
    if style == "exponential":  # 2 * 0.5**r - 1 = 2**(1 - r) - 1
        return jnp.expm1(left * math.log(2.0)), -2.0 * jnp.expm1(-done * math.log(2.0))
    root = jnp.sqrt(done)  # minus_sqrt
    return left / (1.0 + root), root


@schedule_factory
def lr_schedule(max_lr: float, min_lr: float, lr_warmup_steps: float, lr_decay_steps: int,
                lr_decay_style: str, init_lr: float = 0.0, wsd_decay_steps: int | None = None,
                lr_wsd_decay_style: str | None = None, *, group: bool = False) -> Schedule:
    """Megatron's ``OptimizerParamScheduler.get_lr`` as a function of ``num_steps``.

    ``init_lr + (max_lr - init_lr) n / lr_warmup_steps`` while ``n <= lr_warmup_steps``; then
    ``max_lr`` (constant), or ``min_lr`` once ``n > lr_decay_steps``, else
    ``min_lr + coeff (max_lr - min_lr)`` with ``coeff`` of ``r = (n - warmup) / (decay -
    warmup)``: linear ``1 - r``, cosine ``(1 + cos(pi r)) / 2``, WSD ``1`` until
    ``lr_decay_steps - wsd_decay_steps`` then ``lr_wsd_decay_style`` over the last
    ``wsd_decay_steps``; inverse-square-root ``max(min_lr, max_lr sqrt(max(warmup, 1) /
    max(n, 1)))`` (dropping to ``min_lr`` past ``lr_decay_steps``, as Megatron's order of
    checks gives).

    Args:
        max_lr, min_lr, init_lr: ``0 <= min_lr <= max_lr``, ``init_lr <= max_lr`` (asserted
            by Megatron on its class values).
        lr_warmup_steps: < lr_decay_steps (asserted by Megatron); an int, or a float
            as Megatron-LM's ``lr_warmup_fraction * lr_decay_steps`` gives.
        lr_decay_steps: > 0 (asserted by Megatron).
        lr_decay_style: one of constant, linear, cosine, inverse-square-root, WSD.
        wsd_decay_steps, lr_wsd_decay_style: for WSD (Megatron fails at the first annealing
            step without a style, so one is required here).
        group: ``max_lr`` / ``min_lr`` are a param group's own values, which Megatron does
            not assert on (megatron-core builds groups from ``--decoupled-lr`` below
            ``--min-lr``): any finite reals, in any order.

    Returns:
        A ``jaxsched.Schedule`` of ``num_steps``.

    Raises:
        ValueError / TypeError: where Megatron asserts or would fail at a later step.

    Example:
        >>> from jaxsched import megatron
        >>> s = megatron.lr_schedule(1e-3, 1e-5, 10, 110, "cosine")
        >>> [round(float(s(n)), 7) for n in (0, 5, 10, 60, 110, 111)]
        [0.0, 0.0005, 0.001, 0.000505, 1e-05, 1e-05]

    Matches ``megatron.core.optimizer_param_scheduler.OptimizerParamScheduler`` of
    megatron-core 0.16.1.
    """
    fn = "jaxsched.megatron.lr_schedule"
    if group:
        max_lr, min_lr = check.real(fn, "max_lr", max_lr), check.real(fn, "min_lr", min_lr)
        init_lr = check.real(fn, "init_lr", init_lr)
    else:
        max_lr = check.nonneg(fn, "max_lr", max_lr)
        min_lr = check.nonneg(fn, "min_lr", min_lr)
        init_lr = check.nonneg(fn, "init_lr", init_lr)
        check.ordered(fn, "min_lr", min_lr, "max_lr", max_lr, " (Megatron asserts)")
        check.ordered(fn, "init_lr", init_lr, "max_lr", max_lr, " (Megatron asserts)")
    decay = check.integer(fn, "lr_decay_steps", lr_decay_steps, minimum=1,
                          maximum=check.MAX_EXACT)
    warm = _warmup_steps(fn, lr_warmup_steps, decay)
    style = check.choice(fn, "lr_decay_style", lr_decay_style, DECAY_STYLES)
    wsd = None
    if style == "WSD":
        if wsd_decay_steps is None or lr_wsd_decay_style is None:
            raise ValueError(f"{fn}: lr_decay_style='WSD' needs wsd_decay_steps and "
                             f"lr_wsd_decay_style (Megatron asserts the first and fails at "
                             f"the first annealing step without the second)")
        wsd = check.integer(fn, "wsd_decay_steps", wsd_decay_steps, minimum=-check.MAX_EXACT,
                            maximum=check.MAX_EXACT)
        check.choice(fn, "lr_wsd_decay_style", lr_wsd_decay_style, WSD_DECAY_STYLES)

    def value(n: jax.Array) -> jax.Array:
        n = n.astype(jnp.result_type(int))
        check.reachable(fn, "lr_decay_steps", decay, n)
        if wsd is not None:
            check.reachable(fn, "wsd_decay_steps", wsd, n)
        if isinstance(warm, float):  # W - n and n / W, each one rounding of a float W
            nw = to_float(jnp.minimum(n, math.floor(warm)))
            warmup = mix(init_lr, (warm - nw) / warm, max_lr, nw / warm)
        elif warm:
            nw = jnp.minimum(n, warm)
            warmup = mix(init_lr, divide(warm - nw, warm), max_lr, divide(nw, warm))
        else:
            warmup = jnp.asarray(max_lr, to_float(n).dtype)
        if style == "constant":
            after = jnp.full(jnp.shape(n), max_lr, to_float(n).dtype)
        elif style == "inverse-square-root":
            ratio = (max(warm, 1) / to_float(jnp.maximum(n, 1)) if isinstance(warm, float)
                     else divide(max(warm, 1), jnp.maximum(n, 1)))
            after = jnp.maximum(min_lr, max_lr * jnp.sqrt(ratio))
        elif style == "WSD" and wsd <= 0:  # the anneal never starts before n > decay
            after = jnp.full(jnp.shape(n), max_lr, to_float(n).dtype)
        elif style == "WSD":  # coeff of (n - (decay - wsd)) / wsd = 1 - (decay - n) / wsd
            rest = jnp.clip(decay - n, 0, wsd)
            c, c_min = _weights(lr_wsd_decay_style, rest, wsd)
            after = mix(max_lr, c, min_lr, c_min)
        else:  # rest = decay - n, an integer even for a fractional warmup
            rest = jnp.clip(decay - n, 0, math.floor(decay - warm))
            c, c_min = _weights(style, rest, decay - warm)
            after = mix(max_lr, c, min_lr, c_min)
        if style != "constant":
            after = jnp.where(n > decay, min_lr, after)
        # n <= warm for an integer n is n <= floor(warm): compared in integers, since a float
        # warm (2749.999996) rounds to float32 (2750.0) and would keep step 2750 in the warmup
        return jnp.where((warm > 0) & (n <= math.floor(warm)), warmup, after)

    return Schedule(value, name=fn, params=dict(
        max_lr=max_lr, min_lr=min_lr, lr_warmup_steps=warm, lr_decay_steps=decay,
        lr_decay_style=style, init_lr=init_lr, wsd_decay_steps=wsd,
        lr_wsd_decay_style=lr_wsd_decay_style))


@schedule_factory
def wd_schedule(start_wd: float, end_wd: float, wd_incr_steps: int,
                wd_incr_style: str, *, group: bool = False) -> Schedule:
    """Megatron's ``OptimizerParamScheduler.get_wd``: weight decay from ``start_wd`` up to
    ``end_wd`` over ``wd_incr_steps`` (linear, or cosine ``(1 - cos(pi r)) / 2``), then
    ``end_wd``; ``constant`` needs ``start_wd == end_wd`` (Megatron asserts it at every
    step). With ``group=True`` (a param group's own ``start_wd`` / ``end_wd``, which
    Megatron does not assert on) any finite reals are taken, in any order.

    Example:
        >>> from jaxsched import megatron
        >>> w = megatron.wd_schedule(0.01, 0.1, 100, "cosine")
        >>> [round(float(w(n)), 6) for n in (0, 50, 100, 500)]
        [0.01, 0.055, 0.1, 0.1]

    Matches ``OptimizerParamScheduler.get_wd`` of megatron-core 0.16.1.
    """
    fn = "jaxsched.megatron.wd_schedule"
    if group:
        start, end = check.real(fn, "start_wd", start_wd), check.real(fn, "end_wd", end_wd)
    else:
        start = check.nonneg(fn, "start_wd", start_wd)
        end = check.nonneg(fn, "end_wd", end_wd)
        check.ordered(fn, "start_wd", start, "end_wd", end, " (Megatron asserts)")
    style = check.choice(fn, "wd_incr_style", wd_incr_style, WD_INCR_STYLES)
    if style == "constant" and start != end:
        raise ValueError(f"{fn}: wd_incr_style='constant' needs start_wd == end_wd (Megatron "
                         f"asserts it at every step), got {start!r} and {end!r}")
    span = check.integer(fn, "wd_incr_steps", wd_incr_steps, minimum=0 if style ==
                         "constant" else 1, maximum=check.MAX_EXACT)

    def value(n: jax.Array) -> jax.Array:
        n = n.astype(jnp.result_type(int))
        check.reachable(fn, "wd_incr_steps", span, n)
        if style == "constant":
            return jnp.full(jnp.shape(n), end, to_float(n).dtype)
        rest = jnp.clip(span - n, 0, span)
        if style == "linear":
            up, down = divide(span - rest, span), divide(rest, span)
        else:  # 0.5 * (cos(pi (1 - r)) + 1) and its complement, each from its own zero
            up, down = half_cos(span - rest, span), half_cos(rest, span)
        return mix(end, up, start, down)

    return Schedule(value, name=fn, params=dict(start_wd=start, end_wd=end,
                                               wd_incr_steps=span, wd_incr_style=style))
