"""Megatron-core 0.16.1's ``OptimizerParamScheduler`` as an adapter: Megatron's constructor
arguments, ``step(increment)``, per-group ``max_lr`` / ``min_lr`` / ``start_wd`` / ``end_wd``
/ ``wd_mult``, the lr and weight decay in ``param_groups``, and Megatron's state dict with the
legacy keys and the override / use-checkpoint rules on load."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.adapter import Adapter, host_cpu
from jaxsched.megatron.schedules import lr_schedule, wd_schedule

__all__ = ["OptimizerParamScheduler"]

# state-dict key -> the older names Megatron still reads, in its order of preference
LEGACY = {"max_lr": ("start_lr",), "lr_warmup_steps": ("warmup_iter", "warmup_steps"),
          "lr_decay_steps": ("end_iter", "decay_steps"), "lr_decay_style": ("decay_style",),
          "num_steps": ("num_iters",)}
LR_KEYS = ("max_lr", "min_lr", "lr_warmup_steps", "lr_decay_steps", "lr_decay_style")
WD_KEYS = ("start_wd", "end_wd", "wd_incr_steps", "wd_incr_style")
_PROBES: dict[Any, Any] = {}  # get_lr / get_wd's compiled schedules


class OptimizerParamScheduler(Adapter):
    """Megatron's OptimizerParamScheduler: the lr and weight decay of every param group as
    a function of ``num_steps`` (``jaxsched.megatron.lr_schedule`` / ``wd_schedule``).

    ``step(increment)`` adds ``increment`` to ``num_steps`` (1 per iteration, or the global
    batch size when Megatron counts samples). A group's ``max_lr`` / ``min_lr`` /
    ``start_wd`` / ``end_wd`` override the class values; its weight decay is multiplied by
    its ``wd_mult``. ``load_state_dict`` reads Megatron's current and legacy keys; with
    ``override_opt_param_scheduler`` the constructor's values win, without
    ``use_checkpoint_opt_param_scheduler`` they must equal the checkpoint's (Megatron
    asserts; a ``ValueError`` here), else the checkpoint's are taken. As in Megatron, the
    checkpoint's ``num_steps`` is *added* to the current count (Megatron calls
    ``step(increment=num_steps)``): load into a fresh scheduler.

    Example:
        >>> from jaxsched import megatron
        >>> s = megatron.OptimizerParamScheduler(
        ...     [{"lr": 0.0, "weight_decay": 0.0}], init_lr=0.0, max_lr=1e-3, min_lr=1e-5,
        ...     lr_warmup_steps=10, lr_decay_steps=110, lr_decay_style="linear",
        ...     start_wd=0.1, end_wd=0.1, wd_incr_steps=110, wd_incr_style="constant")
        >>> s.step(10)
        >>> s.get_last_lr(), s.param_groups[0]["weight_decay"]
        ([0.001], 0.1)

    Matches ``megatron.core.optimizer_param_scheduler.OptimizerParamScheduler`` of
    megatron-core 0.16.1.
    """

    _counter_name = "num_steps"
    _counter_offset = 0
    _max_count = check.MAX_PY_COUNT  # a Python int, as Megatron's; evaluated in int64

    def __init__(self, optimizer: Any, init_lr: float, max_lr: float, min_lr: float,
                 lr_warmup_steps: int, lr_decay_steps: int, lr_decay_style: str,
                 start_wd: float, end_wd: float, wd_incr_steps: int, wd_incr_style: str,
                 use_checkpoint_opt_param_scheduler: bool = True,
                 override_opt_param_scheduler: bool = False,
                 wsd_decay_steps: int | None = None,
                 lr_wsd_decay_style: str | None = None) -> None:
        fn = "jaxsched.megatron.OptimizerParamScheduler"
        self._read_groups(fn, optimizer)
        self._use_checkpoint = check.boolean(fn, "use_checkpoint_opt_param_scheduler",
                                             use_checkpoint_opt_param_scheduler)
        self._override = check.boolean(fn, "override_opt_param_scheduler",
                                       override_opt_param_scheduler)
        if self._override and self._use_checkpoint:
            raise ValueError(f"{fn}: both override_opt_param_scheduler and "
                             f"use_checkpoint_opt_param_scheduler are set (Megatron asserts)")
        self._count = 0
        self._configure(fn, dict(
            init_lr=init_lr, max_lr=max_lr, min_lr=min_lr, lr_warmup_steps=lr_warmup_steps,
            lr_decay_steps=lr_decay_steps, lr_decay_style=lr_decay_style, start_wd=start_wd,
            end_wd=end_wd, wd_incr_steps=wd_incr_steps, wd_incr_style=wd_incr_style,
            wsd_decay_steps=wsd_decay_steps, lr_wsd_decay_style=lr_wsd_decay_style))

    def _read_groups(self, fn: str, optimizer: Any) -> list[dict[str, Any]]:
        """The param groups; Megatron only writes a group's ``lr``, so a group without one
        is taken (as 0.0 until the scheduler writes it)."""
        if hasattr(optimizer, "param_groups") and not isinstance(optimizer, Adapter):
            optimizer = list(optimizer.param_groups)
        if isinstance(optimizer, (list, tuple)):
            optimizer = [dict(g, lr=g.get("lr", 0.0)) if isinstance(g, Mapping) else g
                         for g in optimizer]
        return super()._read_groups(fn, optimizer)

    def _group_schedules(self, where: str, s: Mapping[str, Any], group: Mapping[str, Any]
                         ) -> tuple[Any, Any]:
        """One group's lr and wd schedules: the class values (asserted as Megatron asserts
        them), or the group's own ``max_lr`` / ``min_lr`` / ``start_wd`` / ``end_wd``, which
        Megatron takes as they are."""
        try:
            lr = lr_schedule(s["max_lr"], s["min_lr"], s["lr_warmup_steps"],
                             s["lr_decay_steps"], s["lr_decay_style"], s["init_lr"],
                             s["wsd_decay_steps"], s["lr_wsd_decay_style"])
            wd = wd_schedule(s["start_wd"], s["end_wd"], s["wd_incr_steps"], s["wd_incr_style"])
            if "max_lr" in group or "min_lr" in group:
                lr = lr_schedule(group.get("max_lr", s["max_lr"]),
                                 group.get("min_lr", s["min_lr"]), s["lr_warmup_steps"],
                                 s["lr_decay_steps"], s["lr_decay_style"], s["init_lr"],
                                 s["wsd_decay_steps"], s["lr_wsd_decay_style"], group=True)
            if "start_wd" in group or "end_wd" in group:
                wd = wd_schedule(group.get("start_wd", s["start_wd"]),
                                 group.get("end_wd", s["end_wd"]), s["wd_incr_steps"],
                                 s["wd_incr_style"], group=True)
        except (TypeError, ValueError) as err:
            text = str(err).split(": ", 1)[-1]
            raise type(err)(f"{where}: {text}") from None
        return lr, wd

    def _configure(self, fn: str, settings: dict[str, Any]) -> None:
        """Builds every group's lr and wd schedules; raises, changing nothing, if any is
        invalid."""
        s = settings
        lrs, wds, mults = [], [], []
        for g, group in enumerate(self._groups):
            where = f"{fn} (param group {g})" if len(self._groups) > 1 else fn
            lr, wd = self._group_schedules(where, s, group)
            lrs.append(lr)
            wds.append(wd)
            mults.append(check.real(where, "wd_mult", group.get("wd_mult", 1.0)))
        self._settings = dict(s)
        self._wds, self._wd_mults = wds, mults
        self._written_wd: list[float] | None = None
        self._setup(lrs, self._count, write_momentum=False)

    _TRANSIENT = ("_cache", "_evaluate", "_evaluate_wd")

    def _compile(self) -> None:
        super()._compile()
        wd_fns = list(self._wds)
        self._evaluate_wd = jax.jit(lambda c: jnp.stack([w(c) for w in wd_fns]))

    def _at_count(self, schedule: Any) -> float:
        with jax.enable_x64(True):
            return float(jax.device_get(schedule(
                jax.device_put(np.int64(self._count), host_cpu()))))

    def _probe(self, fn: str, group: Mapping[str, Any]) -> tuple[Any, Any]:
        """A param group's (lr, wd) schedules, jitted, cached (module-wide, so the adapter
        holds no compiled function) by the settings and group values they read."""
        key = (repr(sorted(self._settings.items())),
               tuple(repr(group.get(k)) for k in ("max_lr", "min_lr", "start_wd", "end_wd")))
        if key not in _PROBES:
            lr, wd = self._group_schedules(fn, self._settings, group)
            if len(_PROBES) >= 64:
                _PROBES.pop(next(iter(_PROBES)))
            _PROBES[key] = (jax.jit(lr), jax.jit(wd))
        return _PROBES[key]

    def get_lr(self, param_group: Mapping[str, Any]) -> float:
        """Megatron's ``get_lr(param_group)``: the lr at ``num_steps`` of a param group
        (its own ``max_lr`` / ``min_lr`` if it has them, else the class values)."""
        fn = f"{self._fn}.get_lr"
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{fn}: param_group must be a dict, got {param_group!r}")
        return self._at_count(self._probe(fn, param_group)[0])

    def get_wd(self, param_group: Mapping[str, Any] | None = None) -> float:
        """Megatron's ``get_wd(param_group=None)``: the weight decay at ``num_steps`` of a
        param group's ``start_wd`` / ``end_wd`` (the class values without one), before its
        ``wd_mult``."""
        fn = f"{self._fn}.get_wd"
        if param_group is not None and not isinstance(param_group, Mapping):
            raise TypeError(f"{fn}: param_group must be a dict or None, got {param_group!r}")
        return self._at_count(self._probe(fn, param_group or {})[1])

    def step(self, increment: int) -> None:
        """Megatron's ``step(increment)``: ``num_steps += increment``."""
        inc = check.integer(f"{self._fn}.step", "increment", increment, minimum=0,
                            maximum=self._max_count)
        if self._count + inc > self._max_count:
            raise OverflowError(f"{self._fn}.step: num_steps {self._count} + {inc} exceeds "
                                f"2**63-1 (the host evaluates the schedule on an int64)")
        self._count += inc
        self._written_wd = None  # Megatron writes every group's weight decay anew

    @property
    def num_steps(self) -> int:
        return self._count

    def get_last_wd(self) -> list[float]:
        """The weight decay in force per group (``wd_mult`` applied): the one Megatron last
        wrote into the param groups (right after ``load_state_dict``, from the weight-decay
        settings before the load, as Megatron steps before reading them)."""
        if self._written_wd is not None:
            return list(self._written_wd)
        with jax.enable_x64(True):
            wds = jax.device_get(self._evaluate_wd(jax.device_put(np.int64(self._count),
                                                                  host_cpu())))
        return [float(w) * m for w, m in zip(wds, self._wd_mults, strict=True)]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = super().param_groups
        for group, wd in zip(groups, self.get_last_wd(), strict=True):
            group["weight_decay"] = wd
        return groups

    def state_dict(self) -> dict[str, Any]:
        s = self._settings
        return {"max_lr": float(s["max_lr"]), "lr_warmup_steps": s["lr_warmup_steps"],
                "num_steps": self._count, "lr_decay_style": s["lr_decay_style"],
                "lr_decay_steps": s["lr_decay_steps"], "min_lr": s["min_lr"],
                "start_wd": s["start_wd"], "end_wd": s["end_wd"],
                "wd_incr_style": s["wd_incr_style"], "wd_incr_steps": s["wd_incr_steps"]}

    def _pick(self, fn: str, state: Mapping[str, Any], key: str) -> Any:
        for name in (*LEGACY.get(key, ()), key):
            if name in state:
                return state[name]
        raise ValueError(f"{fn}: state_dict has no {key!r} (nor {LEGACY.get(key, ())}); "
                         f"got keys {sorted(state)}")

    def _check_and_set(self, fn: str, name: str, ours: Any, theirs: Any) -> Any:
        if self._override:
            return ours
        if not self._use_checkpoint and ours != theirs:
            raise ValueError(f"{fn}: the constructor's {name} {ours!r} and the checkpoint's "
                             f"{theirs!r} differ (Megatron asserts without "
                             f"use_checkpoint_opt_param_scheduler)")
        return theirs

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Megatron's ``load_state_dict`` (module doc); raises and changes nothing on a
        dict it cannot use."""
        fn = f"{self._fn}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
        new = dict(self._settings)
        for key in LR_KEYS:
            new[key] = self._check_and_set(fn, key, new[key], self._pick(fn, state_dict, key))
        # Megatron steps (writing the weight decay) before it reads the weight-decay keys
        mid = dict(new)
        if "start_wd" in state_dict:  # older checkpoints have no weight-decay schedule
            for key in WD_KEYS:
                if key not in state_dict:
                    raise ValueError(f"{fn}: state_dict has start_wd but no {key!r}")
                new[key] = self._check_and_set(fn, key, new[key], state_dict[key])
        steps = check.integer(fn, "num_steps", self._pick(fn, state_dict, "num_steps"),
                              minimum=0, maximum=self._max_count - self._count)
        saved = (self._settings, self._wds, self._wd_mults, self.schedules, self._evaluate,
                 self._evaluate_wd, self._cache, self._write_momentum, self._written_wd)
        try:
            written = None
            if mid != new:
                self._configure(fn, mid)
                self._count += steps
                try:
                    written = self.get_last_wd()
                finally:
                    self._count -= steps
            self._configure(fn, new)
        except (TypeError, ValueError):
            (self._settings, self._wds, self._wd_mults, self.schedules, self._evaluate,
             self._evaluate_wd, self._cache, self._write_momentum, self._written_wd) = saved
            raise
        self._count += steps  # Megatron: self.step(increment=num_steps)
        self._written_wd = written

    def __repr__(self) -> str:
        return (f"OptimizerParamScheduler(num_steps={self._count}, lr={self.get_last_lr()}, "
                f"weight_decay={self.get_last_wd()})")
