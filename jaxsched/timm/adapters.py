"""timm-named adapters (timm 1.0.31 class names, constructor signatures and state dicts)
over the pure schedules of ``jaxsched.timm.schedules``.

timm's schedulers hold no count: the training loop passes it, ``step(epoch)`` after each
epoch (which moves the lr when ``t_in_epochs``) and ``step_update(num_updates)`` after each
update (which moves it otherwise). These adapters do the same: the lr in force is the
schedule at the last count passed to the method that moves it, or, before any, the lr
timm sets when built. ``state_dict()`` has exactly timm's keys and values (the scheduler's
``__dict__`` without the optimizer); ``load_state_dict`` takes timm's (or ours), validates it
whole, adopts its settings, and changes nothing if it is not this scheduler's.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

import jax

from jaxsched.core import checks as check
from jaxsched.core.adapter import Adapter, limit_name
from jaxsched.core.cycles import Cycles
from jaxsched.timm import schedules, wsd

__all__ = ["CosineLRScheduler", "MultiStepLRScheduler", "PolyLRScheduler", "StepLRScheduler",
           "TanhLRScheduler", "TimmAdapter", "WSDLRScheduler"]

BASE_KEYS = ("param_group_field", "_initial_param_group_field", "base_values", "metric",
             "t_in_epochs", "noise_range_t", "noise_pct", "noise_type", "noise_std",
             "noise_seed")
NOISE = ("noise_range_t", "noise_pct", "noise_std", "noise_seed", "noise_type")


def _exact_to(fn: str, full: Mapping[str, Any]) -> int:
    """The last count a timm schedule is exact at in x64 (on the host): 2**53-1, or less
    where its restart table stops short (``cycle_mul`` near 1 with many cycles)."""
    if full.get("cycle_mul", 1.0) == 1.0 or "t_initial" not in full:
        return check.MAX_EXACT
    w = full.get("warmup_t", 0) if full.get("warmup_prefix", False) else 0
    cycles = Cycles(fn, full["t_initial"], full["cycle_mul"], full.get("cycle_limit", 1),
                    check.MAX_PY_COUNT - w)
    return min(check.MAX_EXACT, cycles.exact_to + w)


class TimmAdapter(Adapter):
    """Base of the timm adapters: ``step(epoch, metric)`` and ``step_update(num_updates,
    metric)``, param groups with ``lr_scale``, timm's state dict."""

    _counter_name = "t"
    _counter_offset = 0
    _factory: Any = None
    _settings: tuple[str, ...] = ()  # timm's own attributes, in its state-dict order

    def __init__(self, optimizer: Any, *args: Any, t_in_epochs: bool = True,
                 initialize: bool = True, **kwargs: Any) -> None:
        fn = f"jaxsched.timm.{type(self).__name__}"
        groups = self._read_groups(fn, optimizer)
        initialize = check.boolean(fn, "initialize", initialize)
        if not initialize and any("initial_lr" not in g for g in groups):
            raise ValueError(f"{fn}: initialize=False needs 'initial_lr' in every param group "
                             f"(timm raises KeyError), got {groups!r}")
        names = [p for p in inspect.signature(type(self)._factory).parameters
                 if p not in ("lr", "lr_scale", "step_zero", "noise_type")]  # timm's
        # constructors take no noise_type: only a loaded state dict sets it
        positional = names[:names.index("noise_range_t")]  # timm's t_in_epochs comes next
        if len(args) > len(positional):
            raise TypeError(f"{fn}: takes at most {len(positional)} positional settings "
                            f"after the optimizer ({', '.join(positional)}), got {len(args)}")
        settings = dict(zip(positional, args, strict=False))
        for key in kwargs:
            if key in settings:
                raise TypeError(f"{fn}: got multiple values for argument {key!r}")
        settings.update(kwargs)
        check.known_keywords(fn, settings, names, "argument")
        base = [float(g.get("initial_lr", g["lr"])) for g in groups]
        state = {"base_values": base, "metric": None,
                 "t_in_epochs": check.boolean(fn, "t_in_epochs", t_in_epochs)}
        self._configure(fn, settings, state)
        self._count, self._stepped = 0, False

    def _defaults(self) -> dict[str, Any]:
        sig = inspect.signature(type(self)._factory).parameters
        return {k: sig[k].default for k in self._settings + NOISE
                if sig[k].default is not inspect.Parameter.empty}

    def _configure(self, fn: str, settings: Mapping[str, Any], state: Mapping[str, Any]
                   ) -> None:
        """Builds the schedules from timm-named ``settings`` and the ``base_values`` in
        ``state``; raises, leaving ``self`` unchanged, if any is invalid."""
        full = self._defaults()
        full.update(settings)
        base = state["base_values"]
        if not isinstance(base, list) or len(base) != len(self._groups):
            raise ValueError(f"{fn}: base_values must be a list of {len(self._groups)} lrs "
                             f"(one per param group), got {base!r}")
        base = [check.nonneg(fn, f"base_values[{g}]", v) for g, v in enumerate(base)]
        scales = [check.nonneg(fn, f"param group {g} lr_scale", grp.get("lr_scale", 1.0))
                  for g, grp in enumerate(self._groups)]
        scaled = [type(self)._factory(**full, lr=b, lr_scale=s)
                  for b, s in zip(base, scales, strict=True)]
        self._full, self._base, self._scales = full, base, scales
        self._max_count = _exact_to(fn, full)
        self._state_extra = dict(state)
        self._setup(scaled, getattr(self, "_count", 0), write_momentum=False)
        self._at_zero: list[float] | None = None  # the formula at t = 0, when asked for

    @property
    def t_in_epochs(self) -> bool:
        return self._state_extra["t_in_epochs"]

    @property
    def base_values(self) -> list[float]:
        return list(self._base)

    def _values(self) -> tuple[list[float], list[float] | None]:
        """``schedules`` give count 0 as built (what an optax user trains with); an explicit
        ``step(0)`` / ``step_update(0)`` sets timm's formula at 0 instead."""
        if not self._stepped or self._count:
            return super()._values()
        if self._at_zero is None:
            with jax.enable_x64(True):
                self._at_zero = [float(type(self)._factory(
                    **self._full, lr=b, lr_scale=s, step_zero="formula")(0))
                    for b, s in zip(self._base, self._scales, strict=True)]
        return list(self._at_zero), None

    def _move(self, method: str, t: Any, metric: Any, on_epoch: bool) -> None:
        fn = f"{self._fn}.{method}"
        name = "epoch" if on_epoch else "num_updates"
        t = check.integer(fn, name, t, minimum=0, maximum=check.MAX_PY_COUNT)
        if t > self._max_count:
            raise OverflowError(f"{fn}: {name}={t} exceeds {limit_name(self._max_count)}, the "
                                f"last count this scheduler's schedule is exact at; nothing "
                                f"changed")
        if metric is not None:
            metric = check.real(fn, "metric", metric)
        self._state_extra["metric"] = metric
        if on_epoch == self.t_in_epochs:
            self._count, self._stepped = t, True

    def step(self, epoch: int, metric: float | None = None) -> None:  # type: ignore[override]
        """After epoch ``epoch - 1``: moves the lr to ``s(epoch)`` when ``t_in_epochs``."""
        self._move("step", epoch, metric, True)

    def step_update(self, num_updates: int, metric: float | None = None) -> None:
        """After update ``num_updates - 1``: moves the lr to ``s(num_updates)`` unless
        ``t_in_epochs``."""
        self._move("step_update", num_updates, metric, False)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = super().param_groups
        for group, base in zip(groups, self._base, strict=True):
            group.setdefault("initial_lr", base)
        return groups

    def _warmup_steps(self) -> list[Any]:
        w = self._full.get("warmup_t", 0)
        if not w:
            return [1 for _ in self._base]
        init = self._full["warmup_lr_init"]
        targets = self._base
        if type(self) is TanhLRScheduler and not self._full["warmup_prefix"]:
            with jax.enable_x64(True):  # timm's _get_lr(warmup_t), in float64
                targets = [float(type(self)._factory(**dict(self._full, noise_range_t=None),
                                                     lr=b, step_zero="formula")(w))
                           for b in self._base]
        return [(v - init) / w for v in targets]

    def state_dict(self) -> dict[str, Any]:
        extra = self._state_extra
        state = {"param_group_field": "lr", "_initial_param_group_field": "initial_lr",
                 "base_values": list(self._base), "metric": extra["metric"],
                 "t_in_epochs": extra["t_in_epochs"],
                 "noise_range_t": self._full["noise_range_t"],
                 "noise_pct": self._full["noise_pct"], "noise_type": self._full["noise_type"],
                 "noise_std": self._full["noise_std"], "noise_seed": self._full["noise_seed"]}
        state.update({k: copy.deepcopy(self._full[k]) for k in self._settings})
        if "stable_timescale" in state:  # timm stores it resolved (warmup_t by default)
            state["stable_timescale"] = self.schedules[0].params["stable_timescale"]
        state["warmup_steps"] = self._warmup_steps()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Adopts timm's (or our) state dict: its settings, ``base_values`` and ``metric``.
        The count is not in it (timm keeps none): the next ``step`` / ``step_update`` sets
        it, as in timm. Raises and changes nothing if the dict is not this scheduler's."""
        fn = f"{self._fn}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
        expected = set(self.state_dict())
        if set(state_dict) != expected:
            raise ValueError(f"{fn}: state_dict must have exactly the keys {sorted(expected)} "
                             f"(a {type(self).__name__}'s), got {sorted(state_dict)}")
        for key, want in (("param_group_field", "lr"),
                          ("_initial_param_group_field", "initial_lr")):
            if state_dict[key] != want:
                raise ValueError(f"{fn}: {key} must be {want!r}, got {state_dict[key]!r}")
        t_in_epochs = check.boolean(fn, "t_in_epochs", state_dict["t_in_epochs"])
        metric = state_dict["metric"]
        if metric is not None:
            check.real(fn, "metric", metric)
        settings = {k: state_dict[k] for k in self._settings + NOISE}
        saved = (self._full, self._base, self._scales, self._state_extra, self._at_zero,
                 self.schedules, self._evaluate, self._cache, self._write_momentum)
        try:
            self._configure(fn, settings, {"base_values": state_dict["base_values"],
                                           "metric": metric, "t_in_epochs": t_in_epochs})
            steps = state_dict["warmup_steps"]
            ours = self._warmup_steps()
            if not isinstance(steps, list) or len(steps) != len(ours) or any(
                    not isinstance(a, (int, float)) or isinstance(a, bool)
                    or abs(a - b) > 1e-9 * max(abs(b), 1e-300) for a, b in zip(
                        steps, ours, strict=True)):
                raise ValueError(f"{fn}: warmup_steps {steps!r} do not follow from the "
                                 f"dict's settings and base_values (expected {ours!r})")
        except (TypeError, ValueError, NotImplementedError) as err:
            (self._full, self._base, self._scales, self._state_extra, self._at_zero,
             self.schedules, self._evaluate, self._cache, self._write_momentum) = saved
            text = str(err)
            if not text.startswith(fn):
                text = f"{fn}: {text.split(': ', 1)[-1]}"
            raise type(err)(text) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(t={self._count if self._stepped else None}, " \
               f"lr={self.get_last_lr()})"


def _cycles_length(self: TimmAdapter, cycles: Any = 0) -> Any:
    """timm's ``get_cycle_length(cycles=0)``: the length of ``cycles`` cycles (0: all
    ``cycle_limit`` of them), plus the warmup when it is a prefix, in timm's arithmetic
    (``t_initial * cycles``, or ``floor(t_initial (cycle_mul**cycles - 1) / (cycle_mul -
    1))``)."""
    import math

    fn = f"{self._fn}.get_cycle_length"
    cycles = check.real(fn, "cycles", cycles)
    cycles = int(cycles) if float(cycles).is_integer() else cycles
    f = self._full
    cycles = max(1, cycles or f["cycle_limit"])
    if f["cycle_mul"] == 1.0:
        t = f["t_initial"] * cycles
    else:
        m = f["cycle_mul"]
        t = math.floor(-f["t_initial"] * (m ** cycles - 1) / (1 - m))
    return t + f["warmup_t"] if f["warmup_prefix"] else t


def _wsd_length(self: TimmAdapter, cycles: Any = 0) -> Any:
    """timm's ``WSDLRScheduler.get_cycle_length(cycles=0)``: ``warmup_t + t_initial``
    (``cycles`` is ignored, as in timm)."""
    return self._full["warmup_t"] + self._full["t_initial"]


def _adapter(name: str, factory: Any, settings: tuple[str, ...], doc: str,
             cycle_length: Any = None) -> type:
    attrs = {"_factory": staticmethod(factory), "_settings": settings, "__doc__": doc,
             "__module__": __name__}
    if cycle_length is not None:
        attrs["get_cycle_length"] = cycle_length
    return type(name, (TimmAdapter,), attrs)


_CYCLIC = ("t_initial", "lr_min", "cycle_mul", "cycle_decay", "cycle_limit", "warmup_t",
           "warmup_lr_init", "warmup_prefix")
_WARM = ("warmup_t", "warmup_lr_init", "warmup_prefix")

CosineLRScheduler = _adapter(
    "CosineLRScheduler", schedules.cosine_lr, (*_CYCLIC, "k_decay"),
    "timm's CosineLRScheduler(optimizer, t_initial, ...) over ``jaxsched.timm.cosine_lr``.",
    _cycles_length)
TanhLRScheduler = _adapter(
    "TanhLRScheduler", schedules.tanh_lr, ("lb", "ub", *_CYCLIC),
    "timm's TanhLRScheduler(optimizer, t_initial, lb, ub, ...) over "
    "``jaxsched.timm.tanh_lr``.", _cycles_length)
PolyLRScheduler = _adapter(
    "PolyLRScheduler", schedules.poly_lr,
    ("t_initial", "power", *_CYCLIC[1:], "k_decay"),
    "timm's PolyLRScheduler(optimizer, t_initial, power, ...) over "
    "``jaxsched.timm.poly_lr``.", _cycles_length)
StepLRScheduler = _adapter(
    "StepLRScheduler", schedules.step_lr, ("decay_t", "decay_rate", *_WARM),
    "timm's StepLRScheduler(optimizer, decay_t, decay_rate, ...) over "
    "``jaxsched.timm.step_lr``.")
MultiStepLRScheduler = _adapter(
    "MultiStepLRScheduler", schedules.multistep_lr, ("decay_t", "decay_rate", *_WARM),
    "timm's MultiStepLRScheduler(optimizer, decay_t, decay_rate, ...) over "
    "``jaxsched.timm.multistep_lr``.")
WSDLRScheduler = _adapter(
    "WSDLRScheduler", wsd.wsd_lr,
    ("t_initial", "decay_t", "lr_min", "stable_fn", "stable_timescale", "stable_power",
     "decay_fn", "decay_power", "decay_ratio", "warmup_t", "warmup_lr_init"),
    "timm's WSDLRScheduler(optimizer, t_initial, decay_t, ...) over "
    "``jaxsched.timm.wsd_lr``.", _wsd_length)
