"""timm 1.0.31's ``PlateauLRScheduler`` (deprecated in timm): torch's ReduceLROnPlateau with
timm's linear warmup and lr noise on top, stepped per epoch.

It is a state machine over the lr in force, not a function of the count, so it has no pure
schedule; the plateau decisions are ``jaxsched.core.plateau``'s (torch's, with
``threshold_mode='rel'`` and ``eps=1e-8`` as timm builds it), the noise is
``jaxsched.timm.noise``'s (timm's draws exactly). timm's behaviour, reproduced:

- When built, each group's lr is ``initial_lr * lr_scale``; with ``warmup_t > 0`` it is
  then ``warmup_lr_init * lr_scale``.
- ``step(epoch, metric)`` with ``epoch <= warmup_t`` sets ``(warmup_lr_init + epoch * s) *
  lr_scale``, ``s = (initial_lr - warmup_lr_init) / warmup_t``, and ignores the metric. With
  ``warmup_t == 0``, ``s`` is 1, so ``step(0)`` sets the lr to ``warmup_lr_init`` (0 by
  default): timm's quirk (its train.py never calls ``step(0)``).
- After the warmup: the lr from before the last noise is restored, the plateau machine
  steps on the metric if one is given (on the lr in force, so it cuts from the last warmup
  value), and inside the noise range the lr becomes ``lr + lr * noise(epoch)``.
- ``step_update`` does nothing. ``state_dict()`` is timm's ``{'best', 'last_epoch'}``: the
  patience and cooldown counters and the lr are not saved (timm's documented reason for the
  deprecation), and ``load_state_dict`` restores only those two values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.adapter import host_cpu, parse_optimizer
from jaxsched.core.hyperparams import apply_hyperparams
from jaxsched.core.plateau import (
    init_state,
    make_config,
    metric_shape,
    plateau_step,
)
from jaxsched.timm.noise import check_noise, check_noise_type, normal_noise, uniform_noise

__all__ = ["PlateauLRScheduler"]

_step = jax.jit(plateau_step, static_argnums=2)


@jax.jit
def _noise(seed: jax.Array, pct: jax.Array, std: jax.Array) -> jax.Array:
    return normal_noise(seed, pct, std)


@jax.jit
def _uniform(seed: jax.Array, pct: jax.Array) -> jax.Array:
    return uniform_noise(seed, pct)


class PlateauLRScheduler:
    """timm's ``PlateauLRScheduler(optimizer, decay_rate=0.1, patience_t=10,
    threshold=1e-4, cooldown_t=0, warmup_t=0, warmup_lr_init=0., lr_min=0., mode='max',
    noise_range_t=None, noise_type='normal', noise_pct=0.67, noise_std=1.0,
    noise_seed=None, initialize=True)`` (timm 1.0.31), stepped with ``step(epoch, metric)``.

    The lrs are Python floats computed in timm's order; the plateau machine and the noise
    run in float64 on the host CPU. See the module docstring for timm's rules.

    Raises:
        ValueError / TypeError: eagerly, for a setting timm or torch would refuse (factor
            >= 1, an unknown mode), or would accept and loop on forever (a normal noise
            setting whose redraw loop cannot end). An ``lr_min`` above a group's lr is
            taken as timm takes it (that lr is never cut). A
            ``noise_type`` other than ``'normal'`` is timm's uniform noise ``2 * (u - 0.5) *
            noise_pct`` (a name other than ``'uniform'`` warns once: timm takes it
            silently).

    Example:
        >>> from jaxsched import timm
        >>> s = timm.PlateauLRScheduler(0.1, patience_t=1, mode="min", warmup_t=2,
        ...                             warmup_lr_init=0.01)
        >>> lrs = []
        >>> for epoch, loss in enumerate([5.0, 4.0, 4.0, 4.0, 4.0], start=1):
        ...     s.step(epoch, loss)
        ...     lrs.append(round(s.get_last_lr()[0], 6))
        >>> lrs
        [0.055, 0.1, 0.1, 0.1, 0.01]
    """

    def __init__(self, optimizer: Any, decay_rate: float = 0.1, patience_t: int = 10,
                 threshold: float = 1e-4, cooldown_t: int = 0, warmup_t: int = 0,
                 warmup_lr_init: float = 0.0, lr_min: float = 0.0, mode: str = "max",
                 noise_range_t: Any = None, noise_type: str = "normal",
                 noise_pct: float = 0.67, noise_std: float = 1.0,
                 noise_seed: int | None = None, initialize: bool = True) -> None:
        fn = self._fn = "jaxsched.timm.PlateauLRScheduler"
        self._groups = parse_optimizer(fn, optimizer)
        if not check.boolean(fn, "initialize", initialize) and any(
                "initial_lr" not in g for g in self._groups):
            raise ValueError(f"{fn}: initialize=False needs 'initial_lr' in every param group "
                             f"(timm raises KeyError), got {self._groups!r}")
        self._config = make_config(fn, mode, decay_rate, patience_t, threshold, "rel",
                                   cooldown_t, 1e-8)
        check_noise_type(fn, noise_type, stacklevel=3)
        self._uniform = noise_type != "normal"
        self.noise_type = noise_type
        seed = 42 if noise_seed is None else noise_seed
        self._noise_range, self._noise_pct, self._noise_std, self._noise_seed = check_noise(
            fn, noise_range_t, noise_pct, noise_std, seed, uniform=self._uniform)
        self.warmup_t = check.integer(fn, "warmup_t", warmup_t, minimum=0)
        self.warmup_lr_init = check.nonneg(fn, "warmup_lr_init", warmup_lr_init)
        lr_min = check.nonneg(fn, "lr_min", lr_min)
        self.base_values = [check.nonneg(fn, "initial_lr", g.get("initial_lr", g["lr"]))
                            for g in self._groups]
        self._scales = [check.nonneg(fn, f"param group {i} lr_scale", g.get("lr_scale", 1.0))
                        for i, g in enumerate(self._groups)]
        # an lr_min above a group's lr is taken as timm takes it: that lr is never cut
        lrs = [b * c for b, c in zip(self.base_values, self._scales, strict=True)]
        if self.warmup_t:
            self.warmup_steps = [(v - self.warmup_lr_init) / self.warmup_t
                                 for v in self.base_values]
            lrs = [self.warmup_lr_init * c for c in self._scales]
        else:
            self.warmup_steps = [1 for _ in self.base_values]
        self._lrs: list[float] = lrs
        self._restore: list[float] | None = None
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._plateau = init_state(lrs, lr_min, self._config, jnp.float64)

    def _noise_at(self, epoch: int) -> float | None:
        """timm's ``_calculate_noise(epoch)`` inside the noise range, else None."""
        rng = self._noise_range
        if rng is None or not (rng[0] <= epoch < rng[1] if isinstance(rng, tuple)
                               else epoch >= rng):
            return None
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            seed = np.uint32((self._noise_seed + epoch) % 2**32)
            if self._uniform:
                return float(_uniform(seed, self._noise_pct))
            return float(_noise(seed, self._noise_pct, self._noise_std))

    def step(self, epoch: int, metric: Any = None) -> None:
        """timm's ``step(epoch, metric)``, called after each epoch with the next epoch."""
        fn = f"{self._fn}.step"
        epoch = check.integer(fn, "epoch", epoch, minimum=0, maximum=check.MAX_COUNT)
        if metric is not None:
            if not isinstance(metric, jax.Array):
                metric = check.scalar(fn, "metric", metric)
            metric_shape(fn, "metric", metric)
        if epoch <= self.warmup_t:
            self._lrs = [(self.warmup_lr_init + epoch * s) * c
                         for s, c in zip(self.warmup_steps, self._scales, strict=True)]
            return
        noise = self._noise_at(epoch)
        lrs = self._lrs if self._restore is None else self._restore
        plateau = self._plateau
        if metric is not None:
            with jax.enable_x64(True), jax.default_device(host_cpu()):
                plateau = _step(plateau._replace(lr=jnp.asarray(lrs, jnp.float64)),
                                jax.device_put(metric, host_cpu()), self._config)
                lrs = [float(x) for x in jax.device_get(plateau.lr)]
        self._plateau, self._restore = plateau, None
        if noise is not None:
            self._restore = list(lrs)
            lrs = [lr + lr * noise for lr in lrs]
        self._lrs = lrs

    def step_update(self, num_updates: int, metric: Any = None) -> None:
        """Does nothing, as in timm (the plateau is stepped per epoch only)."""
        check.integer(f"{self._fn}.step_update", "num_updates", num_updates, minimum=0)

    def get_last_lr(self) -> list[float]:
        return list(self._lrs)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = [dict(g) for g in self._groups]
        for group, lr, base in zip(groups, self._lrs, self.base_values, strict=True):
            group["lr"], group["initial_lr"] = lr, base
        return groups

    def apply(self, state: Any) -> Any:
        """``state`` with the lr in force written into its injected hyperparameters."""
        return apply_hyperparams(f"{self._fn}.apply", state, self.get_last_lr(), None)

    def state_dict(self) -> dict[str, Any]:
        """timm's: ``{'best': ..., 'last_epoch': ...}`` of the inner ReduceLROnPlateau."""
        s = jax.device_get(self._plateau)
        return {"best": float(s.best), "last_epoch": int(s.last_epoch)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """timm's: sets ``best`` and (if present) ``last_epoch``; the counters and the lr
        are not in the dict. Anything else raises and changes nothing."""
        fn = f"{self._fn}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
        if "best" not in state_dict or not set(state_dict) <= {"best", "last_epoch"}:
            raise ValueError(f"{fn}: state_dict must have the keys 'best' and optionally "
                             f"'last_epoch' (timm's), got {sorted(state_dict)}")
        best = state_dict["best"]
        if isinstance(best, bool) or not isinstance(best, (int, float)) or math.isnan(best):
            raise TypeError(f"{fn}: best must be a number (+-inf before the first metric), "
                            f"got {best!r}")
        last = self._plateau.last_epoch
        if "last_epoch" in state_dict:
            last = check.integer(fn, "last_epoch", state_dict["last_epoch"], minimum=0,
                                 maximum=check.MAX_COUNT)
        with jax.enable_x64(True), jax.default_device(host_cpu()):
            self._plateau = self._plateau._replace(
                best=jnp.asarray(float(best), jnp.float64),
                last_epoch=jnp.asarray(last, jnp.int32))

    def __repr__(self) -> str:
        return f"PlateauLRScheduler(lr={self.get_last_lr()})"

