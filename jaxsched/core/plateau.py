"""torch's ReduceLROnPlateau (torch 2.13) as one jnp state machine with two front ends:
the in-graph optax transform ``reduce_lr_on_plateau`` and the adapter
``jaxsched.ReduceLROnPlateau`` (torch-named, re-exported by ``jaxsched.pytorch``).

torch's step(metric): the metric improves on ``best`` if (min/rel) ``m < best * (1 -
threshold)``, (min/abs) ``m < best - threshold``, (max/rel) ``m > best * (1 + threshold)``,
(max/abs) ``m > best + threshold``; NaN never improves. A bad epoch counts up; during
cooldown the counter is decremented and bad epochs are ignored; when the bad epochs
*exceed* ``patience`` each group's lr becomes ``max(lr * factor, min_lr)`` if that lowers it
by more than ``eps``, then the cooldown starts and the count resets. optax 0.2.8's
``optax.contrib.reduce_on_plateau`` differs: it cuts when the count *equals* patience (one
evaluation earlier; with ``patience=0`` that is on an improvement, never on a plateau), and
scales the very update that reported the metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxsched.core import checks as check
from jaxsched.core.adapter import host_cpu, parse_optimizer
from jaxsched.core.hyperparams import apply_hyperparams
from jaxsched.core.state import check_settings

__all__ = ["PlateauConfig", "PlateauState", "ReduceLROnPlateau", "reduce_lr_on_plateau"]


class PlateauConfig(NamedTuple):
    """The validated, static settings of the state machine."""

    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    eps: float


class PlateauState(NamedTuple):
    """torch's mutable plateau state, as arrays (``lr`` and ``min_lr`` per group)."""

    lr: jax.Array
    min_lr: jax.Array
    best: jax.Array
    num_bad_epochs: jax.Array
    cooldown_counter: jax.Array
    last_epoch: jax.Array


def make_config(fn: str, mode: str, factor: float, patience: int, threshold: float,
                threshold_mode: str, cooldown: int, eps: float) -> PlateauConfig:
    check.choice(fn, "mode", mode, ("min", "max"))
    f = check.real(fn, "factor", factor)
    if not 0.0 <= f < 1.0:
        raise ValueError(f"{fn}: factor must be in [0, 1) (torch: 'Factor should be < 1.0'), "
                         f"got {factor!r}")
    check.choice(fn, "threshold_mode", threshold_mode, ("rel", "abs"))
    t = check.nonneg(fn, "threshold", threshold)
    if threshold_mode == "rel" and mode == "min" and t >= 1.0:
        raise ValueError(f"{fn}: a relative threshold must be < 1 in min mode (best * "
                         f"(1 - threshold) would never be beaten), got {threshold!r}")
    return PlateauConfig(
        mode=mode, factor=f,
        patience=check.integer(fn, "patience", patience, minimum=0),
        threshold=t, threshold_mode=threshold_mode,
        cooldown=check.integer(fn, "cooldown", cooldown, minimum=0),
        eps=check.nonneg(fn, "eps", eps))


def init_state(lr: ArrayLike, min_lr: ArrayLike, config: PlateauConfig,
               dtype: Any = None) -> PlateauState:
    """The state torch holds after construction (``best`` is the mode's worst value)."""
    lr = jnp.asarray(lr, dtype)
    worst = jnp.inf if config.mode == "min" else -jnp.inf
    zero = jnp.zeros((), jnp.int32)
    return PlateauState(lr=lr, min_lr=jnp.broadcast_to(jnp.asarray(min_lr, lr.dtype), lr.shape),
                        best=jnp.asarray(worst, lr.dtype), num_bad_epochs=zero,
                        cooldown_counter=zero, last_epoch=zero)


def is_better(a: jax.Array, best: jax.Array, config: PlateauConfig) -> jax.Array:
    if config.mode == "min":
        if config.threshold_mode == "rel":
            return a < best * (1.0 - config.threshold)
        return a < best - config.threshold
    if config.threshold_mode == "rel":
        return a > best * (config.threshold + 1.0)
    return a > best + config.threshold


def plateau_step(state: PlateauState, metric: ArrayLike, config: PlateauConfig) -> PlateauState:
    """torch's ``ReduceLROnPlateau.step(metric)``, jit-safe."""
    current = jnp.asarray(metric, state.best.dtype)
    better = is_better(current, state.best, config)
    best = jnp.where(better, current, state.best)
    bad = jnp.where(better, 0, state.num_bad_epochs + 1)
    in_cooldown = state.cooldown_counter > 0
    cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
    bad = jnp.where(in_cooldown, 0, bad)
    reduce = bad > config.patience
    new_lr = jnp.maximum(state.lr * config.factor, state.min_lr)
    lr = jnp.where(reduce & (state.lr - new_lr > config.eps), new_lr, state.lr)
    return PlateauState(
        lr=lr, min_lr=state.min_lr, best=best,
        num_bad_epochs=jnp.where(reduce, 0, bad).astype(jnp.int32),
        cooldown_counter=jnp.where(reduce, config.cooldown, cooldown_counter).astype(jnp.int32),
        # the count saturates at 2**31-1, as optax's does (no wrap to -2**31)
        last_epoch=jnp.where(state.last_epoch < check.MAX_COUNT, state.last_epoch + 1,
                             state.last_epoch).astype(jnp.int32))


FLOOR_ABOVE = " (the lr would never be cut; torch accepts it silently)"


def metric_shape(fn: str, name: str, metric: Any) -> None:
    """Refuses, at trace time or eagerly, a metric that is not one real number: a vector
    would give a vector lr (and torch's ``float(metric)`` raises)."""
    if isinstance(metric, (bool, str, bytes)) or not (
            isinstance(metric, (int, float)) or hasattr(metric, "dtype")):
        raise TypeError(f"{fn}: {name} must be a real scalar (a float or a 0-d array), got "
                        f"{metric!r}")
    if jnp.ndim(metric) != 0 or not (jnp.issubdtype(jnp.result_type(metric), jnp.floating)
                                     or jnp.issubdtype(jnp.result_type(metric), jnp.integer)):
        raise TypeError(f"{fn}: {name} must be a real scalar (a float or a 0-d array), got "
                        f"shape {jnp.shape(metric)} dtype {jnp.result_type(metric)}")


class ReduceLROnPlateauState(NamedTuple):
    """State of the ``reduce_lr_on_plateau`` transform; ``plateau.lr`` is the lr in force."""

    plateau: PlateauState


def reduce_lr_on_plateau(
    lr: float,
    *,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
    """torch's ReduceLROnPlateau as an optax transform that scales updates by ``-lr``.

    It replaces ``optax.scale_by_learning_rate`` in a chain (e.g.
    ``optax.chain(optax.scale_by_adam(), jaxsched.reduce_lr_on_plateau(1e-3))``) and takes
    the metric as ``update(updates, state, params, value=metric)``. torch's ordering holds:
    update ``k`` is scaled by the lr in force before its metric is seen, and that metric
    changes the lr from update ``k + 1`` on. For a metric computed once per epoch inside a
    jitted per-step loop, pass ``value_ready=(step % steps_per_epoch == last)`` (a traced
    bool): on other updates the plateau state is left alone. Both arguments may be traced, so
    the step compiles once. The lr in force is ``state.plateau.lr``.

    Args:
        lr: the initial lr, >= 0.
        mode: ``"min"`` or ``"max"``.
        factor: cut factor, in [0, 1).
        patience: bad epochs tolerated before a cut, >= 0.
        threshold: improvement threshold, >= 0 (< 1 for min/rel).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: epochs after a cut during which bad epochs are ignored, >= 0.
        min_lr: floor, in [0, lr] (torch accepts a floor above the lr, which is then
            never cut; refused here).
        eps: a cut smaller than this is skipped, >= 0.

    Returns:
        An ``optax.GradientTransformationExtraArgs``.

    Raises:
        TypeError, ValueError: eagerly, on bad settings; at trace time, if ``value`` is
            missing from ``update`` or is not one real number (a vector metric would give
            a vector lr).

    Example:
        >>> import jax.numpy as jnp, jaxsched
        >>> tx = jaxsched.reduce_lr_on_plateau(1.0, patience=1, factor=0.5)
        >>> state = tx.init(jnp.zeros(1))
        >>> for metric in [3.0, 3.0, 3.0, 3.0]:
        ...     _, state = tx.update(jnp.ones(1), state, value=metric)
        >>> float(state.plateau.lr)
        0.5

    Matches ``torch.optim.lr_scheduler.ReduceLROnPlateau`` of torch 2.13.0.
    """
    fn = "jaxsched.reduce_lr_on_plateau"
    config = make_config(fn, mode, factor, patience, threshold, threshold_mode, cooldown, eps)
    lr0 = check.nonneg(fn, "lr", lr)
    floor = check.nonneg(fn, "min_lr", min_lr)
    check.ordered(fn, "min_lr", floor, "lr", lr0, FLOOR_ABOVE)

    def init_fn(params: Any) -> ReduceLROnPlateauState:
        del params
        return ReduceLROnPlateauState(init_state(lr0, floor, config, jnp.result_type(float)))

    def update_fn(updates: Any, state: ReduceLROnPlateauState, params: Any = None, *,
                  value: ArrayLike | None = None, value_ready: ArrayLike = True,
                  **extra_args: Any) -> tuple[Any, ReduceLROnPlateauState]:
        del params, extra_args
        if value is None:
            raise TypeError(f"{fn}: update needs the metric as value=..., got value=None")
        metric_shape(fn, "value", value)
        lr_now = state.plateau.lr
        updates = jax.tree.map(lambda g: jnp.asarray(-lr_now, g.dtype) * g, updates)
        stepped = plateau_step(state.plateau, value, config)
        ready = jnp.asarray(value_ready, bool)
        plateau = jax.tree.map(lambda new, old: jnp.where(ready, new, old), stepped,
                               state.plateau)
        return updates, ReduceLROnPlateauState(plateau)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


_step_f64 = jax.jit(plateau_step, static_argnums=2)


class ReduceLROnPlateau:
    """torch's ``ReduceLROnPlateau(optimizer, mode, factor, patience, threshold,
    threshold_mode, cooldown, min_lr, eps)`` with ``step(metric)``.

    Runs the same state machine as ``reduce_lr_on_plateau``, in float64 (torch uses Python
    floats). ``step(metric)`` dispatches one compiled update and does not wait for it; a jax
    array metric is never pulled to the host. A metric that is not one real number raises
    (and changes nothing). As in torch, param groups added to the optimizer (a torch
    optimizer or a list of groups) after construction are reduced too, starting at their
    own lr with the default ``min_lr``; with per-group ``min_lr`` stepping then raises, as
    torch does. ``last_epoch`` saturates at 2**31-1. A ``min_lr`` above a group's lr is
    refused (torch accepts it and never cuts that group). ``state_dict()`` has torch 2.13's keys and
    values, and ``load_state_dict`` takes torch's; one with other settings raises and
    changes nothing.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.ReduceLROnPlateau(0.1, patience=1, factor=0.5)
        >>> for metric in [1.0, 1.0, 1.0]:
        ...     sched.step(metric)
        >>> sched.get_last_lr(), sched.state_dict()["num_bad_epochs"]
        ([0.05], 0)
    """

    def __init__(self, optimizer: Any, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: Any = 0, eps: float = 1e-8) -> None:
        fn = "jaxsched.ReduceLROnPlateau"
        self._fn = fn
        self._config = make_config(fn, mode, factor, patience, threshold, threshold_mode,
                                   cooldown, eps)
        self._groups = parse_optimizer(fn, optimizer)
        n = len(self._groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"{fn}: expected {n} min_lrs (one per param group), got "
                                 f"{len(min_lr)}: {min_lr!r}")
            self._default_min_lr, min_lrs = None, list(min_lr)
        else:
            self._default_min_lr, min_lrs = min_lr, [min_lr] * n
        self._min_lrs = [check.nonneg(fn, "min_lr", m) for m in min_lrs]
        for g, (group, floor) in enumerate(zip(self._groups, self._min_lrs, strict=True)):
            check.ordered(fn, f"min_lr (group {g})", floor, f"lr (group {g})", group["lr"],
                          FLOOR_ABOVE)
        self._source = optimizer if hasattr(optimizer, "param_groups") or isinstance(
            optimizer, list) else None
        self._raw_min_lrs = min_lrs
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._state = init_state([g["lr"] for g in self._groups], self._min_lrs,
                                     self._config, jnp.float64)

    def __getstate__(self) -> dict[str, Any]:
        """Pickling: the state machine as host numpy arrays (float64 kept; a jax array would
        load as float32 outside x64 mode)."""
        return dict(self.__dict__, _state=jax.device_get(self._state))

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._state = jax.tree.map(jnp.asarray, self._state)

    @property
    def last_epoch(self) -> int:
        return int(self._state.last_epoch)

    def step(self, metrics: ArrayLike, epoch: int | None = None) -> None:
        """One evaluation: feeds ``metrics`` (a float or a scalar array) to the state machine."""
        if epoch is not None:
            raise TypeError(f"{self._fn}.step: the deprecated epoch argument is not supported")
        if not isinstance(metrics, jax.Array):  # a torch / numpy 0-d value, on the host
            metrics = check.scalar(f"{self._fn}.step", "metrics", metrics)
        metric_shape(f"{self._fn}.step", "metrics", metrics)
        self._sync_groups()
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            # to the host CPU (asynchronously, for a device array): no sync, no float64
            # on an accelerator
            self._state = _step_f64(self._state, jax.device_put(metrics, host_cpu()),
                                    self._config)

    def _sync_groups(self) -> None:
        """torch reduces param groups added to the optimizer after construction too: a new
        group starts at its own lr with the default ``min_lr``; with per-group ``min_lr``
        the list no longer fits and, as torch does, stepping raises."""
        if self._source is None:
            return
        current = getattr(self._source, "param_groups", self._source)
        if len(current) == len(self._groups):
            return
        fn = f"{self._fn}.step"
        if len(current) < len(self._groups):
            raise ValueError(f"{fn}: the optimizer lost param groups ({len(self._groups)} -> "
                             f"{len(current)})")
        if self._default_min_lr is None:
            raise ValueError(f"{fn}: expected {len(current)} min_lrs (one per param group, "
                             f"after groups were added), got {len(self._min_lrs)}; torch "
                             f"raises here too")
        new = parse_optimizer(fn, list(current)[len(self._groups):])
        floor = check.nonneg(fn, "min_lr", self._default_min_lr)
        self._groups += new
        self._min_lrs += [floor] * len(new)
        self._raw_min_lrs += [self._default_min_lr] * len(new)
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._state = self._state._replace(
                lr=jnp.concatenate([self._state.lr,
                                    jnp.asarray([g["lr"] for g in new], jnp.float64)]),
                min_lr=jnp.asarray(self._min_lrs, jnp.float64))

    def get_last_lr(self) -> list[float]:
        return [float(x) for x in jax.device_get(self._state.lr)]

    def apply(self, state: Any) -> Any:
        """``state`` with the lr in force written into its injected hyperparameters (see
        ``jaxsched.Adapter.apply``)."""
        return apply_hyperparams(f"{self._fn}.apply", state, self.get_last_lr(), None)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = [dict(g) for g in self._groups]
        for group, lr in zip(groups, self.get_last_lr(), strict=True):
            group["lr"] = lr
        return groups

    def state_dict(self) -> dict[str, Any]:
        c, s = self._config, jax.device_get(self._state)
        return {"factor": c.factor, "default_min_lr": self._default_min_lr,
                "min_lrs": list(self._raw_min_lrs), "patience": c.patience,
                "cooldown": c.cooldown, "eps": c.eps, "last_epoch": int(s.last_epoch),
                "_last_lr": [float(x) for x in s.lr],
                "mode_worse": math.inf if c.mode == "min" else -math.inf, "mode": c.mode,
                "threshold": c.threshold, "threshold_mode": c.threshold_mode,
                "best": float(s.best), "cooldown_counter": int(s.cooldown_counter),
                "num_bad_epochs": int(s.num_bad_epochs)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resumes torch's (or our) plateau state and, as torch's load (an update of the
        scheduler's attributes) does, adopts its settings (``mode``, ``factor``,
        ``patience``, ``threshold``, ``threshold_mode``, ``cooldown``, ``eps``, ``min_lrs``);
        a foreign or invalid dict raises, changing nothing."""
        fn = f"{self._fn}.load_state_dict"
        adopted = {"factor", "default_min_lr", "min_lrs", "patience", "cooldown", "eps",
                   "mode_worse", "mode", "threshold", "threshold_mode"}
        check_settings(fn, "ReduceLROnPlateau", state_dict, self.state_dict(),
                       {"last_epoch", "_last_lr", "best", "cooldown_counter", "num_bad_epochs"}
                       | adopted)
        sd = state_dict
        config = make_config(fn, sd["mode"], sd["factor"], sd["patience"], sd["threshold"],
                             sd["threshold_mode"], sd["cooldown"], sd["eps"])
        if sd["mode_worse"] != (math.inf if config.mode == "min" else -math.inf):
            raise ValueError(f"{fn}: mode_worse={sd['mode_worse']!r} does not fit "
                             f"mode={config.mode!r}")
        raw = sd["min_lrs"]
        if not isinstance(raw, list) or len(raw) != len(self._groups):
            raise ValueError(f"{fn}: min_lrs must list {len(self._groups)} lrs, got {raw!r}")
        min_lrs = [check.nonneg(fn, "min_lrs", m) for m in raw]
        default = sd["default_min_lr"]
        if default is not None:
            check.nonneg(fn, "default_min_lr", default)
        lrs = state_dict["_last_lr"]
        if not isinstance(lrs, list) or len(lrs) != len(self._groups):
            raise ValueError(f"{fn}: _last_lr must list {len(self._groups)} lrs, got {lrs!r}")
        lrs = [check.nonneg(fn, "_last_lr", x) for x in lrs]
        best = state_dict["best"]
        if isinstance(best, bool) or not isinstance(best, (int, float)) or math.isnan(best):
            raise TypeError(f"{fn}: best must be a number (inf before the first metric), got "
                            f"{best!r}")
        counters = [check.integer(fn, key, state_dict[key], minimum=0)
                    for key in ("num_bad_epochs", "cooldown_counter", "last_epoch")]
        if counters[1] > config.cooldown:
            raise ValueError(f"{fn}: cooldown_counter={counters[1]!r} exceeds cooldown="
                             f"{config.cooldown}")
        self._config, self._min_lrs, self._raw_min_lrs = config, min_lrs, list(raw)
        self._default_min_lr = default
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._state = PlateauState(
                lr=jnp.asarray(lrs, jnp.float64), min_lr=jnp.asarray(min_lrs, jnp.float64),
                best=jnp.asarray(float(best), jnp.float64),
                num_bad_epochs=jnp.asarray(counters[0], jnp.int32),
                cooldown_counter=jnp.asarray(counters[1], jnp.int32),
                last_epoch=jnp.asarray(counters[2], jnp.int32))
