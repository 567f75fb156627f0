"""transformers 5.23.0's ``GreedyLR`` (``get_scheduler("greedy", ...)``): the in-graph optax
transform ``greedy_lr`` and the torch-style adapter ``GreedyLR``, both running
``jaxsched.transformers.greedy_core``'s state machine (see there for the rules)."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxsched.core import checks as check
from jaxsched.core.adapter import host_cpu, parse_optimizer
from jaxsched.core.hyperparams import apply_hyperparams
from jaxsched.core.plateau import metric_shape
from jaxsched.transformers.greedy_core import (
    GreedyConfig,
    GreedyState,
    counter_dtype,
    greedy_init,
    greedy_step,
)

__all__ = ["GreedyLR", "GreedyLRState", "greedy_lr"]

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


def _settings(fn: str, mode: Any, factor: Any, patience: Any, threshold: Any,
              threshold_mode: Any, cooldown: Any, warmup: Any, eps: Any, smooth: Any,
              window_size: Any, reset_start: Any) -> tuple[GreedyConfig, dict[str, Any]]:
    """Validates ``GreedyLR``'s settings as transformers takes them."""
    f = check.real(fn, "factor", factor)
    if f >= 1.0:
        raise ValueError(f"{fn}: factor must be < 1.0 (transformers: 'Factor should be < "
                         f"1.0.'), got {factor!r}")
    if f == 0.0:
        raise ValueError(f"{fn}: factor must not be 0: the first increase divides the lr by "
                         f"it (transformers raises ZeroDivisionError there), got {factor!r}")
    if f < 0.0:
        warnings.warn(f"{fn}: factor {factor!r} is negative: a cut sets the lr to min_lr and "
                      f"an increase never happens, as in transformers", UserWarning,
                      stacklevel=4)
    check.choice(fn, "mode", mode, MODES)
    check.choice(fn, "threshold_mode", threshold_mode, THRESHOLD_MODES)
    smooth = check.boolean(fn, "smooth", smooth)
    window = check.integer(fn, "window_size", window_size, minimum=-check.MAX_COUNT)
    if smooth and window < 1:
        raise ValueError(f"{fn}: window_size must be >= 1 with smooth=True (the rolling "
                         f"average would divide by an empty window), got {window_size!r}")
    ints = {"reset_start": check.integer(fn, "reset_start", reset_start,
                                         minimum=-check.MAX_COUNT)}
    for name, value in (("patience", patience), ("cooldown", cooldown), ("warmup", warmup)):
        ints[name] = _count(fn, name, value)
    config = GreedyConfig(mode=mode, threshold_mode=threshold_mode, smooth=smooth,
                          window=window if smooth else 1)
    return config, dict(ints, factor=f, threshold=check.real(fn, "threshold", threshold),
                        eps=check.real(fn, "eps", eps), window_size=window)


def _count(fn: str, name: str, value: Any) -> int | float:
    """``patience``, ``cooldown`` or ``warmup``: an integer or, as transformers compares
    and counts them, any real in [-2**31+1, 2**31-1] (kept as given: an int stays an int)."""
    value = check.scalar(fn, name, value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number (an integer, or a fraction as "
                        f"transformers compares it), got {value!r}")
    if isinstance(value, numbers.Integral):
        return check.integer(fn, name, value, minimum=-check.MAX_COUNT)
    x = check.real(fn, name, value)
    if abs(x) > check.MAX_COUNT:
        raise ValueError(f"{fn}: {name} must be in [{-check.MAX_COUNT}, {check.MAX_COUNT}], "
                         f"got {value!r}")
    return x


def _plain(x: Any) -> int | float:
    """A counter as transformers keeps it: an int, or a float counting down from a
    fractional setting."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _bounds(fn: str, name: str, value: Any, n: int) -> list[float]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{fn}: expected {n} {name}s (one per param group), got "
                             f"{len(value)}: {value!r}")
        return [check.real(fn, name, v) for v in value]
    return [check.real(fn, name, value)] * n


def _number(fn: str, name: str, value: Any) -> float:
    """Any real number, NaN and infinities included (a metric's running sum holds them)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    return float(value)


class GreedyLRState(NamedTuple):
    """State of the ``greedy_lr`` transform; ``greedy.lr[0]`` is the lr in force."""

    greedy: GreedyState


def greedy_lr(lr: float, *, mode: str = "min", factor: float = 0.95, patience: int = 10,
              threshold: float = 1e-6, threshold_mode: str = "abs", cooldown: int = 0,
              warmup: int = 0, min_lr: float = 1e-3, max_lr: float = 1.0, eps: float = 1e-8,
              verbose: bool = False, smooth: bool = False, window_size: int = 50,
              reset_start: int = 500) -> optax.GradientTransformationExtraArgs:
    """transformers' ``GreedyLR`` as an optax transform that scales updates by ``-lr``.

    Used like ``jaxsched.reduce_lr_on_plateau``: ``update(updates, state, params,
    value=metric, value_ready=...)``; update ``k`` is scaled by the lr in force before its
    metric is seen. The lr rises (``lr / factor``, up to ``max_lr``) after more than
    ``patience`` improving metrics and falls (``lr * factor``, down to ``min_lr``) after
    more than ``patience`` others; see ``jaxsched.transformers.greedy_core``.

    Args:
        lr: the initial lr.
        mode: ``GreedyLR``'s, as are ``factor``, ``patience``, ``threshold``,
            ``threshold_mode``, ``cooldown``, ``warmup``, ``min_lr``, ``max_lr``, ``eps``,
            ``verbose`` (it prints nothing here), ``smooth``, ``window_size`` and
            ``reset_start``.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; the lr in force is
        ``state.greedy.lr[0]``.

    Raises:
        TypeError, ValueError: eagerly, where transformers raises (``factor >= 1``, an
            unknown mode) or cannot step (``factor == 0``, an empty rolling window), and on
            values of the wrong type.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxsched.transformers import greedy_lr
        >>> tx = greedy_lr(0.1, patience=1, factor=0.5, min_lr=0.0)
        >>> state = tx.init(jnp.zeros(1))
        >>> for metric in [3.0, 2.0, 1.0, 1.0, 1.0]:
        ...     _, state = tx.update(jnp.ones(1), state, value=metric)
        >>> round(float(state.greedy.lr[0]), 6)
        0.1

    Matches ``transformers.optimization.GreedyLR`` of transformers 5.23.0.
    """
    fn = "jaxsched.transformers.greedy_lr"
    config, s = _settings(fn, mode, factor, patience, threshold, threshold_mode, cooldown,
                          warmup, eps, smooth, window_size, reset_start)
    for name in ("cooldown", "warmup"):
        if counter_dtype(s, None) is not jnp.int32 and abs(s[name]) > 2**24:
            raise ValueError(f"{fn}: with a fractional cooldown or warmup the counters are "
                             f"floats, exact in float32 up to 2**24; {name} must be at most "
                             f"2**24 in magnitude, got {s[name]!r} (use an integer, or the "
                             f"GreedyLR adapter, which counts in float64)")
    check.boolean(fn, "verbose", verbose)
    lr0 = check.real(fn, "lr", lr)
    floor, ceiling = check.real(fn, "min_lr", min_lr), check.real(fn, "max_lr", max_lr)

    def init_fn(params: Any) -> GreedyLRState:
        del params
        return GreedyLRState(greedy_init([lr0], [floor], [ceiling], s, config,
                                         jnp.result_type(float)))

    def update_fn(updates: Any, state: GreedyLRState, params: Any = None, *,
                  value: ArrayLike | None = None, value_ready: ArrayLike = True,
                  **extra_args: Any) -> tuple[Any, GreedyLRState]:
        del params, extra_args
        if value is None:
            raise TypeError(f"{fn}: update needs the metric as value=..., got value=None")
        metric_shape(fn, "value", value)
        lr_now = state.greedy.lr[0]
        updates = jax.tree.map(lambda g: jnp.asarray(-lr_now, g.dtype) * g, updates)
        stepped = greedy_step(state.greedy, value, config)
        ready = jnp.asarray(value_ready, bool)
        new = jax.tree.map(lambda a, b: jnp.where(ready, a, b), stepped, state.greedy)
        return updates, GreedyLRState(new)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


_step = jax.jit(greedy_step, static_argnums=2)
_step_epoch = jax.jit(greedy_step, static_argnums=2)

STATE_KEYS = ("factor", "min_lrs", "max_lrs", "patience", "verbose", "cooldown", "warmup",
              "cooldown_counter", "warmup_counter", "mode", "threshold", "threshold_mode",
              "best", "num_bad_epochs", "num_good_epochs", "eps", "last_epoch", "smooth",
              "window_size", "reset_start", "reset_start_original", "_last_lr", "_init_lrs")


class GreedyLR:
    """transformers' ``GreedyLR(optimizer, mode='min', factor=0.95, patience=10,
    threshold=1e-6, threshold_mode='abs', cooldown=0, warmup=0, min_lr=1e-3, max_lr=1.0,
    eps=1e-8, verbose=False, smooth=False, window_size=50, reset_start=500)`` with
    ``step(metrics, epoch=None)``, ``get_last_lr()``, and transformers' state dict.

    The state machine (``jaxsched.transformers.greedy_core``) runs in float64 on the host
    CPU, in transformers' order of operations, so the lrs equal transformers' exactly.
    ``load_state_dict`` takes transformers' dict, any subset of its keys as transformers
    does (its ``_last_lr`` becomes the lr in force); a value of the wrong type raises and
    changes nothing.

    Example:
        >>> from jaxsched.transformers import GreedyLR
        >>> s = GreedyLR([{"lr": 0.1}], patience=1, factor=0.5, min_lr=0.0)
        >>> for metric in [3.0, 3.0, 3.0]:
        ...     s.step(metric)
        >>> s.get_last_lr()
        [0.05]

    Matches ``transformers.optimization.GreedyLR`` of transformers 5.23.0.
    """

    def __init__(self, optimizer: Any, mode: str = "min", factor: float = 0.95,
                 patience: int = 10, threshold: float = 1e-6, threshold_mode: str = "abs",
                 cooldown: int = 0, warmup: int = 0, min_lr: Any = 1e-3, max_lr: Any = 1.0,
                 eps: float = 1e-8, verbose: bool = False, smooth: bool = False,
                 window_size: int = 50, reset_start: int = 500) -> None:
        fn = self._fn = "jaxsched.transformers.GreedyLR"
        config, s = _settings(fn, mode, factor, patience, threshold, threshold_mode,
                              cooldown, warmup, eps, smooth, window_size, reset_start)
        self._verbose = check.boolean(fn, "verbose", verbose)
        self._groups = parse_optimizer(fn, optimizer)
        n = len(self._groups)
        self._build(config, s, [g["lr"] for g in self._groups],
                    _bounds(fn, "min_lr", min_lr, n), _bounds(fn, "max_lr", max_lr, n))

    def _build(self, config: GreedyConfig, s: dict[str, Any], lrs: list[float],
               min_lrs: list[float], max_lrs: list[float]) -> None:
        self._config, self._s = config, s
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._state = greedy_init(lrs, min_lrs, max_lrs, s, config, jnp.float64)

    @property
    def last_epoch(self) -> int:
        return int(self._state.last_epoch)

    def step(self, metrics: ArrayLike, epoch: int | None = None) -> None:
        """One evaluation of ``metrics`` (a float or a scalar array); ``epoch`` sets the
        epoch count instead of adding one, as in transformers."""
        fn = f"{self._fn}.step"
        if not isinstance(metrics, jax.Array):
            metrics = check.scalar(fn, "metrics", metrics)
        metric_shape(fn, "metrics", metrics)
        if epoch is not None:
            epoch = check.integer(fn, "epoch", epoch, minimum=-check.MAX_COUNT)
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            metric = jax.device_put(metrics, host_cpu())
            if epoch is None:
                self._state = _step(self._state, metric, self._config)
            else:
                self._state = _step_epoch(self._state, metric, self._config, epoch)

    def get_last_lr(self) -> list[float]:
        return [float(x) for x in jax.device_get(self._state.lr)]

    def apply(self, state: Any) -> Any:
        """``state`` with the lr in force written into its injected hyperparameters."""
        return apply_hyperparams(f"{self._fn}.apply", state, self.get_last_lr(), None)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = [dict(g) for g in self._groups]
        for group, lr in zip(groups, self.get_last_lr(), strict=True):
            group["lr"] = lr
        return groups

    def state_dict(self) -> dict[str, Any]:
        """transformers' keys and values."""
        c, st = self._config, jax.device_get(self._state)
        floats = lambda a: [float(x) for x in a]  # noqa: E731
        out = {"factor": self._s["factor"], "min_lrs": floats(st.min_lr),
               "max_lrs": floats(st.max_lr), "patience": self._s["patience"],
               "verbose": self._verbose, "cooldown": self._s["cooldown"],
               "warmup": self._s["warmup"], "cooldown_counter": _plain(st.cooldown_counter),
               "warmup_counter": _plain(st.warmup_counter), "mode": c.mode,
               "threshold": self._s["threshold"], "threshold_mode": c.threshold_mode,
               "best": float(st.best), "num_bad_epochs": int(st.num_bad_epochs),
               "num_good_epochs": int(st.num_good_epochs), "eps": self._s["eps"],
               "last_epoch": int(st.last_epoch), "smooth": c.smooth,
               "window_size": self._s["window_size"], "reset_start": int(st.reset_start),
               "reset_start_original": self._s["reset_start"], "_last_lr": floats(st.lr),
               "_init_lrs": floats(st.init_lr)}
        if c.smooth:
            k = int(st.count)
            values = [float(st.window[(int(st.head) + i) % c.window]) for i in range(k)]
            out["_streaming_avg"] = {"window_size": self._s["window_size"], "values": values,
                                     "sum": float(st.total)}
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """transformers' ``load_state_dict``: every key present replaces the current value
        (the rest stay); ``_last_lr`` becomes the lr in force. A value of the wrong type or
        an unknown key raises, changing nothing."""
        fn = f"{self._fn}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
        unknown = set(state_dict) - set(STATE_KEYS) - {"_streaming_avg"}
        if unknown:
            raise ValueError(f"{fn}: state_dict has keys GreedyLR does not save: "
                             f"{sorted(unknown)}")
        d = dict(self.state_dict(), **state_dict)
        n = len(self._groups)
        config, s = _settings(fn, d["mode"], d["factor"], d["patience"], d["threshold"],
                              d["threshold_mode"], d["cooldown"], d["warmup"], d["eps"],
                              d["smooth"], d["window_size"], d["reset_start_original"])
        verbose = check.boolean(fn, "verbose", d["verbose"])
        lrs = _bounds(fn, "_last_lr", d["_last_lr"], n) if isinstance(
            d["_last_lr"], (list, tuple)) else _bounds(fn, "_last_lr", [d["_last_lr"]], n)
        init = _bounds(fn, "_init_lrs", list(d["_init_lrs"]) if isinstance(
            d["_init_lrs"], (list, tuple)) else [d["_init_lrs"]], n)
        mins, maxs = _bounds(fn, "min_lr", d["min_lrs"], n), _bounds(fn, "max_lr",
                                                                      d["max_lrs"], n)
        best = d["best"]
        if isinstance(best, bool) or not isinstance(best, numbers.Real) or math.isnan(best):
            raise TypeError(f"{fn}: best must be a number (+-inf before the first metric), "
                            f"got {best!r}")
        counters = {k: check.integer(fn, k, d[k], minimum=-check.MAX_COUNT) for k in (
            "num_bad_epochs", "num_good_epochs", "last_epoch", "reset_start")}
        countdown = {k: _count(fn, k, d[k]) for k in ("cooldown_counter", "warmup_counter")}
        kind = counter_dtype(s, jnp.float64, *countdown.values())
        window: list[float] = []
        total = 0.0
        if "_streaming_avg" in d and config.smooth:
            avg = d["_streaming_avg"]
            if not isinstance(avg, Mapping) or not isinstance(avg.get("values", []), list):
                raise TypeError(f"{fn}: _streaming_avg must be a dict with a 'values' list, "
                                f"got {avg!r}")
            window = [_number(fn, "_streaming_avg values", v) for v in avg["values"]]
            total = _number(fn, "_streaming_avg sum", avg.get("sum", 0.0))
            if len(window) > config.window:
                raise ValueError(f"{fn}: _streaming_avg holds {len(window)} values, more than "
                                 f"window_size={config.window}")
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            state = greedy_init(lrs, mins, maxs, s, config, jnp.float64, kind)
            buf = jnp.zeros((config.window,), jnp.float64)
            if window:
                buf = buf.at[:len(window)].set(jnp.asarray(window, jnp.float64))
            state = state._replace(
                init_lr=jnp.asarray(init, jnp.float64), best=jnp.asarray(float(best)),
                window=buf, head=jnp.asarray(0, jnp.int32),
                count=jnp.asarray(len(window), jnp.int32), total=jnp.asarray(total),
                **{k: jnp.asarray(v, jnp.int32) for k, v in counters.items()},
                **{k: jnp.asarray(v, kind) for k, v in countdown.items()})
        self._config, self._s, self._verbose, self._state = config, s, verbose, state

    def __repr__(self) -> str:
        return f"GreedyLR(lr={self.get_last_lr()})"
