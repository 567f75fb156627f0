"""transformers 5.23.0's ``GreedyLR`` (``SchedulerType.GREEDY``) as one jnp state machine,
shared by the in-graph optax transform ``greedy_lr`` and the adapter ``GreedyLR``.

``GreedyLR.step(metric)``: with ``smooth`` the metric is first replaced by its rolling
average over the last ``window_size`` values (a running sum: ``+ value``, then ``-`` the
value leaving the window, in that order). During a cooldown or a warmup the counter counts
down and the good / bad epochs reset. Otherwise an improvement on ``best`` (``is_better``:
``threshold_mode`` 'abs' by default) counts a good epoch, anything else a bad one; more
good epochs than ``patience`` raise every group's lr to ``min(lr / factor, max_lr)`` (if
that raises it by more than ``eps``) and start the warmup; more bad ones cut it to
``max(lr * factor, min_lr)`` (if that lowers it by more than ``eps``) and start the
cooldown. A cut that leaves every group at (or below) its ``min_lr`` counts ``reset_start``
down; at 0 the scheduler resets (initial lrs, ``best``, counters, the rolling window), and
an increase restores ``reset_start``.

``patience``, ``cooldown`` and ``warmup`` may be fractional, as transformers compares and
counts them: ``num > patience`` is ``num > floor(patience)`` for integer epoch counts, and
a counter set to ``cooldown`` counts ``cooldown, cooldown - 1, ...`` while it is above 0
(``ceil(cooldown)`` epochs), so with a fractional setting the counters are floats.

The numeric settings live in the state as arrays (so a loaded state dict can change them
and XLA never turns ``lr / factor`` into a multiplication by a rounded reciprocal); the
mode, the threshold mode, ``smooth`` and the window length are static.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxsched.core.exact import two_prod_err

__all__ = ["GreedyConfig", "GreedyState", "counter_dtype", "greedy_init", "greedy_step"]


class GreedyConfig(NamedTuple):
    """The static settings: the comparison's form and the rolling window's length."""

    mode: str
    threshold_mode: str
    smooth: bool
    window: int


class GreedyState(NamedTuple):
    """``GreedyLR``'s mutable state and numeric settings, as arrays (per group: ``lr``,
    ``init_lr``, ``min_lr``, ``max_lr``)."""

    lr: jax.Array
    init_lr: jax.Array
    min_lr: jax.Array
    max_lr: jax.Array
    factor: jax.Array
    threshold: jax.Array
    eps: jax.Array
    patience: jax.Array
    cooldown: jax.Array
    warmup: jax.Array
    reset_start_original: jax.Array
    best: jax.Array
    num_bad_epochs: jax.Array
    num_good_epochs: jax.Array
    cooldown_counter: jax.Array
    warmup_counter: jax.Array
    reset_start: jax.Array
    last_epoch: jax.Array
    window: jax.Array  # the rolling window's values, oldest at ``head`` once full
    head: jax.Array
    count: jax.Array
    total: jax.Array


def _i(x: Any) -> jax.Array:
    return jnp.asarray(x, jnp.int32)


def counter_dtype(settings: dict[str, Any], dtype: Any, *values: float) -> Any:
    """int32 for the cooldown / warmup counters when ``cooldown``, ``warmup`` (and any
    ``values``, loaded counters) are integers; else ``dtype`` (they count down from a
    fractional setting)."""
    whole = all(float(v).is_integer() for v in (settings["cooldown"], settings["warmup"],
                                                 *values))
    return jnp.int32 if whole else dtype


def greedy_init(lrs: Any, min_lrs: Any, max_lrs: Any, settings: dict[str, Any],
                config: GreedyConfig, dtype: Any, counters: Any = None) -> GreedyState:
    """The state ``GreedyLR`` holds after construction (``settings``: factor, threshold,
    eps, patience, cooldown, warmup, reset_start); ``counters`` the counters' dtype
    (default ``counter_dtype(settings, dtype)``)."""
    lr = jnp.asarray(lrs, dtype)
    worst = jnp.inf if config.mode == "min" else -jnp.inf
    f = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    counters = counter_dtype(settings, dtype) if counters is None else counters
    c = lambda x: jnp.asarray(x, counters)  # noqa: E731
    return GreedyState(
        lr=lr, init_lr=lr, min_lr=jnp.broadcast_to(f(min_lrs), lr.shape),
        max_lr=jnp.broadcast_to(f(max_lrs), lr.shape), factor=f(settings["factor"]),
        threshold=f(settings["threshold"]), eps=f(settings["eps"]),
        patience=_i(math.floor(settings["patience"])), cooldown=c(settings["cooldown"]),
        warmup=c(settings["warmup"]), reset_start_original=_i(settings["reset_start"]),
        best=f(worst), num_bad_epochs=_i(0), num_good_epochs=_i(0), cooldown_counter=c(0),
        warmup_counter=c(0), reset_start=_i(settings["reset_start"]), last_epoch=_i(0),
        window=jnp.zeros((max(config.window, 1),), dtype), head=_i(0), count=_i(0),
        total=f(0.0))


def _divide(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a / b`` correctly rounded, as Python divides, also where XLA has turned a division
    by a loop-invariant ``b`` into a multiplication by its rounded reciprocal: one Newton
    correction from the exact residual ``a - q b`` (Dekker's product) in float64."""
    q = a / b
    if q.dtype != jnp.float64:
        return q
    p = q * b
    residual = (a - p) - two_prod_err(q, b, p)
    return jnp.where(jnp.isfinite(q) & (b != 0), q + residual / b, q)


def _is_better(a: jax.Array, best: jax.Array, threshold: jax.Array,
               config: GreedyConfig) -> jax.Array:
    if config.mode == "min":
        if config.threshold_mode == "rel":
            return a < best * (1.0 - threshold)
        return a < best - threshold
    if config.threshold_mode == "rel":
        return a > best * (1.0 + threshold)
    return a > best + threshold


def greedy_step(s: GreedyState, metric: Any, config: GreedyConfig,
                epoch: Any = None) -> GreedyState:
    """``GreedyLR.step(metric, epoch)``, jit-safe (``epoch`` None counts on by one)."""
    current = jnp.asarray(metric, s.best.dtype)
    if config.smooth:
        full = s.count >= config.window
        total = s.total + current
        total = jnp.where(full, total - s.window[s.head], total)
        pos = jnp.where(full, s.head, s.head + s.count) % config.window
        s = s._replace(window=s.window.at[pos].set(current),
                       head=jnp.where(full, (s.head + 1) % config.window, s.head),
                       count=jnp.where(full, s.count, s.count + 1), total=total)
        current = total / s.count
    last_epoch = s.last_epoch + 1 if epoch is None else _i(epoch)
    in_cool = s.cooldown_counter > 0
    in_warm = ~in_cool & (s.warmup_counter > 0)
    normal = ~in_cool & ~in_warm
    better = _is_better(current, s.best, s.threshold, config)
    best = jnp.where(normal & better, current, s.best)
    bad = jnp.where(normal & ~better, s.num_bad_epochs + 1, 0)
    good = jnp.where(normal & better, s.num_good_epochs + 1, 0)
    cool = jnp.where(in_cool, s.cooldown_counter - 1, s.cooldown_counter)
    warm = jnp.where(in_warm, s.warmup_counter - 1, s.warmup_counter)
    increase = normal & (good > s.patience)
    reduce = normal & ~increase & (bad > s.patience)
    up = jnp.minimum(_divide(s.lr, s.factor), s.max_lr)
    raised = jnp.where(up - s.lr > s.eps, up, s.lr)
    down = jnp.maximum(s.lr * s.factor, s.min_lr)
    cut = jnp.where(s.lr - down > s.eps, down, s.lr)
    all_at_min = jnp.all(~(cut > s.min_lr))
    counted = jnp.where(all_at_min, s.reset_start - 1, s.reset_start)
    reset = reduce & all_at_min & (counted <= 0)
    lr = jnp.where(increase, raised, jnp.where(reduce, cut, s.lr))
    reset_start = jnp.where(increase, s.reset_start_original,
                            jnp.where(reduce, counted, s.reset_start))
    warm = jnp.where(increase, s.warmup, warm)
    good = jnp.where(increase, 0, good)
    cool = jnp.where(reduce, s.cooldown, cool)
    bad = jnp.where(reduce, 0, bad)
    worst = jnp.inf if config.mode == "min" else -jnp.inf
    s = s._replace(
        lr=jnp.where(reset, s.init_lr, lr), best=jnp.where(reset, worst, best),
        num_bad_epochs=bad.astype(jnp.int32),
        num_good_epochs=jnp.where(reset, 0, good).astype(jnp.int32),
        cooldown_counter=cool.astype(s.cooldown_counter.dtype),
        warmup_counter=jnp.where(reset, 0, warm).astype(s.warmup_counter.dtype),
        reset_start=jnp.where(reset, s.reset_start_original, reset_start).astype(jnp.int32),
        last_epoch=jnp.asarray(last_epoch, jnp.int32))
    if config.smooth:
        s = s._replace(head=jnp.where(reset, 0, s.head), count=jnp.where(reset, 0, s.count),
                       total=jnp.where(reset, 0.0, s.total))
    return s
