"""torch-style adapters (torch 2.13 class names and constructor signatures) over the pure
schedules of ``jaxsched.pytorch``, ``jaxsched.cyclic`` and ``jaxsched.composite``.

``optimizer`` is an lr, a list of lrs or param-group dicts, an optax ``inject_hyperparams``
state, or a torch optimizer. ``state_dict()`` has the keys and values of torch 2.13's
scheduler after the same steps; ``load_state_dict`` takes torch's (or ours), checks that its
settings are this scheduler's, raises and changes nothing if not, and otherwise resumes at
its ``last_epoch``. To resume in torch from ours, restore the optimizer's lrs too (as a
checkpoint does): torch's recursive schedulers continue from the lr in the group.
"""

from __future__ import annotations

import bisect
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from jaxsched import _checks as check
from jaxsched import composite, cyclic, pytorch
from jaxsched.adapter import Adapter
from jaxsched.schedule import Schedule, group_schedules
from jaxsched.torch_state import (  # noqa: F401  (same: re-exported)
    PROGRESS,
    check_progress,
    check_settings,
    lr_list,
    same,
)

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR", "LambdaLR", "LinearLR",
           "MultiStepLR", "MultiplicativeLR", "OneCycleLR", "PolynomialLR", "SequentialLR",
           "StepLR", "TorchAdapter"]

EPOCH_DEPRECATION = ("The epoch parameter in `scheduler.step()` was not necessary and is being "
                     "deprecated where possible. Please use `scheduler.step()` to step the "
                     "scheduler.")


class TorchAdapter(Adapter):
    """Base of the torch adapters: ``last_epoch`` is the step ``k``; torch's state dict."""

    _counter_name = "last_epoch"
    _counter_offset = 0
    _factory: Any = None

    def _read_torch_groups(self, fn: str, optimizer: Any,
                           last_epoch: int) -> tuple[list[dict[str, Any]], int]:
        """The param groups, the validated ``last_epoch``, and torch's ``base_lrs`` (each
        group's ``initial_lr``, else its ``lr``)."""
        groups = self._read_groups(fn, optimizer)
        le = check.integer(fn, "last_epoch", last_epoch, minimum=-1,
                           maximum=check.MAX_COUNT - 1)
        self._base_lrs = [float(g.get("initial_lr", g["lr"])) for g in groups]
        return groups, le

    def _start(self, fn: str, optimizer: Any, last_epoch: int, kwargs: dict[str, Any], *,
               takes_lr: bool = True, write_momentum: bool = False) -> None:
        groups, le = self._read_torch_groups(fn, optimizer, last_epoch)
        if le != -1 and any("initial_lr" not in g for g in groups):
            raise ValueError(f"{fn}: resuming with last_epoch={le} needs 'initial_lr' in every "
                             f"param group (torch raises KeyError), got {groups!r}")
        self._kwargs = dict(kwargs)
        if takes_lr:
            kwargs = dict(kwargs, lr=self._base_lrs)
        schedules = group_schedules(fn, type(self)._factory, len(groups), kwargs,
                                    shared=("milestones",))
        self._setup(schedules, 0 if le == -1 else le + 1, write_momentum=write_momentum)

    @property
    def last_epoch(self) -> int:
        """torch's counter: 0 after construction, ``k`` after ``k`` steps."""
        return self._count

    @property
    def base_lrs(self) -> list[float]:
        return list(self._base_lrs)

    def step(self, epoch: int | None = None) -> None:
        """Advances one step; ``step(epoch)`` jumps there (deprecated in torch, as here)."""
        self._step_to(epoch)  # validates epoch first: a refused one gets no warning
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION, UserWarning, stacklevel=2)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = super().param_groups
        for group, base in zip(groups, self._base_lrs, strict=True):
            group.setdefault("initial_lr", base)
        return groups

    def _hyper_state(self) -> dict[str, Any]:
        """The scheduler's own settings, under torch's attribute names."""
        return dict(self._kwargs)

    def state_dict(self) -> dict[str, Any]:
        k = self._count
        state = self._hyper_state()
        state.update(base_lrs=list(self._base_lrs), last_epoch=k, _step_count=k + 1,
                     _is_initial=False, _get_lr_called_within_step=False,
                     _last_lr=self.get_last_lr())
        return state

    def _state_at(self, count: int, **override: Any) -> dict[str, Any]:
        """The state dict this scheduler would have at ``count``, with torch's bookkeeping
        overrides (used for the schedulers inside SequentialLR and ChainedScheduler)."""
        saved, self._raw = self._count, True
        self._count = max(count, 0)
        try:
            state = self.state_dict()
        finally:
            self._count, self._raw = saved, False
        if "_step_count" in override and state.get("_step_count") == 0:
            del override["_step_count"]  # CosineAnnealingWarmRestarts never counts steps
        state.update(override)
        return state

    def _check_settings(self, fn: str, state_dict: Any, progress: frozenset = PROGRESS) -> None:
        check_settings(fn, type(self).__name__, state_dict, self.state_dict(), progress)

    _adopts = True  # False: settings that cannot be read back from torch's dict must match
    _chain: tuple[ChainedScheduler, int] | None = None  # set when a ChainedScheduler owns it
    _raw = False  # True while _state_at reads this scheduler's own lr

    def get_last_lr(self) -> list[float]:
        """The lr in force now per group; inside a ``ChainedScheduler``, as in torch, the lr
        the chain had after this scheduler's turn (the last child reports the chained lr)."""
        if self._chain is not None and not self._raw:
            chain, index = self._chain
            return chain._child_last_lr(index)
        return super().get_last_lr()

    def _settings(self, fn: str, state_dict: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor settings a state dict holds (torch's attribute names)."""
        return {k: state_dict[k] for k in self._kwargs}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resumes from torch's (or our) state dict. As torch does, the scheduler takes the
        dict's settings (``step_size``, ``gamma``, ``T_max``, ..., and ``base_lrs``): its
        state dict *is* the scheduler. A dict of another scheduler, or with a field of the
        wrong type or range, raises and changes nothing."""
        fn = f"{self._fn}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
        if not self._adopts:
            self._check_settings(fn, state_dict)
        elif set(state_dict) != set(self.state_dict()):
            raise ValueError(f"{fn}: state_dict is not a {type(self).__name__}'s: expected "
                             f"keys {sorted(self.state_dict())}, got {sorted(state_dict)}")
        n = len(self._groups)
        count = check_progress(fn, state_dict, n)
        base_lrs = lr_list(fn, "base_lrs", state_dict["base_lrs"], n)
        kwargs = self._settings(fn, state_dict) if self._adopts else self._kwargs
        factory = type(self)._factory
        try:
            schedules = group_schedules(fn, factory, n, dict(kwargs, lr=base_lrs),
                                        shared=("milestones",)) if self._adopts else None
        except (TypeError, ValueError) as err:
            raise type(err)(f"{fn}: the state_dict's settings are not valid: {err}") from None
        self._check_position(fn, state_dict, count, kwargs)
        if schedules is not None:
            self._kwargs, self._base_lrs = kwargs, base_lrs
            self._setup(schedules, count, write_momentum=self._write_momentum)
        else:
            self._count = count

    def _check_position(self, fn: str, state_dict: Mapping[str, Any], count: int,
                        kwargs: dict[str, Any]) -> None:
        """Extra consistency checks of a subclass's progress fields (before any change)."""


def _lambdas_state(lambdas: Sequence[Any]) -> list[Any]:
    return [None if pytorch.is_plain_function(f) else dict(vars(f)) for f in lambdas]


class _LambdaAdapter(TorchAdapter):
    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        fn = f"jaxsched.{type(self).__name__}"
        self._start(fn, optimizer, last_epoch, dict(lr_lambda=lr_lambda))
        self._lambdas = [s.params["lr_lambda"] for s in self.schedules]

    def _hyper_state(self) -> dict[str, Any]:
        return {"lr_lambdas": _lambdas_state(self._lambdas)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        fn = f"{self._fn}.load_state_dict"
        self._check_settings(fn, state_dict, PROGRESS | {"lr_lambdas"})
        saved = state_dict["lr_lambdas"]
        if not isinstance(saved, list) or len(saved) != len(self._lambdas):
            raise ValueError(f"{fn}: lr_lambdas must be a list of {len(self._lambdas)}, "
                             f"got {saved!r}")
        count = check_progress(fn, state_dict, len(self._groups))
        for i, attrs in enumerate(saved):
            if attrs is not None and not isinstance(attrs, Mapping):
                raise TypeError(f"{fn}: lr_lambdas[{i}] must be None or a dict of the "
                                f"callable object's attributes, got {attrs!r}")
        for f, attrs in zip(self._lambdas, saved, strict=True):
            if attrs is not None:
                vars(f).update(attrs)
        self._setup(self.schedules, count, write_momentum=False)  # recompile with new attrs


class LambdaLR(_LambdaAdapter):
    """torch's ``LambdaLR(optimizer, lr_lambda, last_epoch=-1)`` over ``jaxsched.lambda_lr``;
    ``lr_lambda`` (or one per group) must be jnp-traceable."""

    _factory = staticmethod(pytorch.lambda_lr)


class MultiplicativeLR(_LambdaAdapter):
    """torch's ``MultiplicativeLR(optimizer, lr_lambda, last_epoch=-1)`` over
    ``jaxsched.multiplicative_lr`` (O(k) per read; see there)."""

    _factory = staticmethod(pytorch.multiplicative_lr)


class StepLR(TorchAdapter):
    """torch's ``StepLR`` over ``jaxsched.step_lr``.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.StepLR(0.1, step_size=2, gamma=0.5)
        >>> for _ in range(4):
        ...     sched.step()
        >>> sched.get_last_lr(), sched.state_dict()["last_epoch"]
        ([0.025], 4)
    """

    _factory = staticmethod(pytorch.step_lr)

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self._start("jaxsched.StepLR", optimizer, last_epoch,
                    dict(step_size=step_size, gamma=gamma))


class MultiStepLR(TorchAdapter):
    """torch's ``MultiStepLR`` over ``jaxsched.multi_step_lr`` (milestones kept as a
    ``Counter``, as torch does)."""

    _factory = staticmethod(pytorch.multi_step_lr)

    def __init__(self, optimizer: Any, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self._start("jaxsched.MultiStepLR", optimizer, last_epoch,
                    dict(milestones=tuple(milestones), gamma=gamma))

    def _hyper_state(self) -> dict[str, Any]:
        return {"milestones": Counter(self._kwargs["milestones"]), "gamma": self._kwargs["gamma"]}

    def _settings(self, fn: str, state_dict: Mapping[str, Any]) -> dict[str, Any]:
        counts = state_dict["milestones"]
        if not isinstance(counts, Mapping):
            raise TypeError(f"{fn}: milestones must be a Counter of milestone: count, got "
                            f"{counts!r}")
        milestones = []
        for m, c in counts.items():
            m = int(m) if isinstance(m, str) and m.isdigit() else m  # JSON keys are strings
            c = check.integer(fn, f"milestones[{m!r}]", c, minimum=0)
            milestones += [m] * c
        return {"milestones": tuple(milestones), "gamma": state_dict["gamma"]}


class ConstantLR(TorchAdapter):
    """torch's ``ConstantLR`` over ``jaxsched.constant_lr``."""

    _factory = staticmethod(pytorch.constant_lr)

    def __init__(self, optimizer: Any, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        self._start("jaxsched.ConstantLR", optimizer, last_epoch,
                    dict(factor=factor, total_iters=total_iters))


class LinearLR(TorchAdapter):
    """torch's ``LinearLR`` over ``jaxsched.linear_lr``."""

    _factory = staticmethod(pytorch.linear_lr)

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        self._start("jaxsched.LinearLR", optimizer, last_epoch,
                    dict(start_factor=start_factor, end_factor=end_factor,
                         total_iters=total_iters))


class ExponentialLR(TorchAdapter):
    """torch's ``ExponentialLR`` over ``jaxsched.exponential_lr``."""

    _factory = staticmethod(pytorch.exponential_lr)

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self._start("jaxsched.ExponentialLR", optimizer, last_epoch, dict(gamma=gamma))


class PolynomialLR(TorchAdapter):
    """torch's ``PolynomialLR`` over ``jaxsched.polynomial_lr``."""

    _factory = staticmethod(pytorch.polynomial_lr)

    def __init__(self, optimizer: Any, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self._start("jaxsched.PolynomialLR", optimizer, last_epoch,
                    dict(total_iters=total_iters, power=power))


class CosineAnnealingLR(TorchAdapter):
    """torch's ``CosineAnnealingLR`` over ``jaxsched.cosine_annealing_lr``."""

    _factory = staticmethod(pytorch.cosine_annealing_lr)

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self._start("jaxsched.CosineAnnealingLR", optimizer, last_epoch,
                    dict(T_max=T_max, eta_min=eta_min))


def restart_position(k: int, t0: int, mult: int) -> tuple[int, int]:
    """(T_cur, T_i) at step ``k``: torch's sequential restart bookkeeping, on the host."""
    t_i = t0
    while k >= t_i:
        k -= t_i
        t_i *= mult
    return k, t_i


class CosineAnnealingWarmRestarts(TorchAdapter):
    """torch's ``CosineAnnealingWarmRestarts`` over
    ``jaxsched.cosine_annealing_warm_restarts``. ``step(epoch)`` takes whole epochs only:
    torch's fractional ``step(epoch + i / iters)`` is refused deliberately (a position
    between steps is not a step count); the same curve at iteration granularity is this
    scheduler with ``T_0`` counted in iterations, stepped once per iteration."""

    def step(self, epoch: int | None = None) -> None:
        if epoch is not None and not isinstance(epoch, bool) and isinstance(
                epoch, float) and not epoch.is_integer():
            raise TypeError(f"{self._fn}.step: epoch must be a whole epoch, got {epoch!r}; "
                            f"torch's fractional step(epoch + i / iters) is not supported: "
                            f"count T_0 in iterations and step once per iteration instead")
        super().step(epoch)

    _factory = staticmethod(cyclic.cosine_annealing_warm_restarts)

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1,
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self._start("jaxsched.CosineAnnealingWarmRestarts", optimizer, last_epoch,
                    dict(T_0=T_0, T_mult=T_mult, eta_min=eta_min))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        t_cur, t_i = restart_position(self._count, self._kwargs["T_0"], self._kwargs["T_mult"])
        state.update(T_0=self._kwargs["T_0"], T_i=t_i, T_mult=self._kwargs["T_mult"],
                     eta_min=self._kwargs["eta_min"], T_cur=t_cur, _step_count=0)
        return state

    def _check_position(self, fn: str, state_dict: Mapping[str, Any], count: int,
                        kwargs: dict[str, Any]) -> None:
        want = restart_position(count, kwargs["T_0"], kwargs["T_mult"])
        if (state_dict["T_cur"], state_dict["T_i"]) != want:
            raise ValueError(f"{fn}: T_cur={state_dict['T_cur']!r}, T_i={state_dict['T_i']!r} "
                             f"do not follow from last_epoch={count} by stepping (expected "
                             f"T_cur={want[0]}, T_i={want[1]}); fractional step(epoch) states "
                             f"are not supported")


class _MomentumAdapter(TorchAdapter):
    """CyclicLR / OneCycleLR: momentum written to ``betas[0]`` or ``momentum``. Their torch
    state dicts do not hold the constructor's settings (``max_lr``, ``div_factor``, ... live
    in the optimizer's groups), so ``load_state_dict`` requires the scheduler's own settings
    and raises on others, naming the first that differs."""

    _adopts = False

    def _momentum_keys(self) -> None:
        """Which key momentum goes to; as torch, cycling momentum needs it in every group."""
        if self.cycles_momentum and any("momentum" not in g and "betas" not in g
                                        for g in self._groups):
            raise ValueError(f"{self._fn}: optimizer must support momentum or beta1 with "
                             f"`cycle_momentum` option enabled (torch raises the same): give "
                             f"param groups with 'momentum' or 'betas', or "
                             f"cycle_momentum=False; got {self._groups!r}")
        self._use_beta1 = "betas" in self._groups[0]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        groups = super().param_groups
        for group, extra in zip(groups, self._extra_group_keys(), strict=True):
            group.update(extra)
        return groups


class CyclicLR(_MomentumAdapter):
    """torch's ``CyclicLR`` over ``jaxsched.cyclic_lr`` (per-group lists for the lrs and
    momenta; the lr at construction is ``base_lr``)."""

    _factory = staticmethod(cyclic.cyclic_lr)

    def __init__(self, optimizer: Any, base_lr: Any, max_lr: Any, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Any = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: Any = 0.8,
                 max_momentum: Any = 0.9, last_epoch: int = -1) -> None:
        kwargs = dict(base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up,
                      step_size_down=step_size_down, mode=mode, gamma=gamma, scale_fn=scale_fn,
                      scale_mode=scale_mode, cycle_momentum=cycle_momentum,
                      base_momentum=base_momentum, max_momentum=max_momentum)
        self._start("jaxsched.CyclicLR", optimizer, last_epoch, kwargs, takes_lr=False,
                    write_momentum=bool(cycle_momentum))
        self._base_lrs = [s.params["base_lr"] for s in self.schedules]
        self._momentum_keys()

    def _extra_group_keys(self) -> list[dict[str, Any]]:
        if not self.cycles_momentum:
            return [{} for _ in self.schedules]
        return [{"max_momentum": s.params["max_momentum"],
                 "base_momentum": s.params["base_momentum"]} for s in self.schedules]

    def _hyper_state(self) -> dict[str, Any]:
        p = self.schedule.params
        total = float(p["step_size_up"] + p["step_size_down"])
        state: dict[str, Any] = {
            "max_lrs": [s.params["max_lr"] for s in self.schedules], "total_size": total,
            "step_ratio": p["step_size_up"] / total, "mode": p["mode"], "gamma": p["gamma"],
            "scale_mode": p["scale_mode"], "cycle_momentum": self.cycles_momentum}
        if self.cycles_momentum:
            state.update(use_beta1=self._use_beta1,
                         base_momentums=[s.params["base_momentum"] for s in self.schedules],
                         max_momentums=[s.params["max_momentum"] for s in self.schedules])
        fn = p["scale_fn"]
        state["_scale_fn_custom"] = None if fn is None or pytorch.is_plain_function(fn) \
            else dict(vars(fn))
        return state


class OneCycleLR(_MomentumAdapter):
    """torch's ``OneCycleLR`` over ``jaxsched.one_cycle_lr``. Stepping past ``total_steps``
    raises torch's ``ValueError`` (and, unlike torch, leaves the count where it was)."""

    _factory = staticmethod(cyclic.one_cycle_lr)

    def __init__(self, optimizer: Any, max_lr: Any, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: Any = 0.85,
                 max_momentum: Any = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        kwargs = dict(max_lr=max_lr, total_steps=total_steps, epochs=epochs,
                      steps_per_epoch=steps_per_epoch, pct_start=pct_start,
                      anneal_strategy=anneal_strategy, cycle_momentum=cycle_momentum,
                      base_momentum=base_momentum, max_momentum=max_momentum,
                      div_factor=div_factor, final_div_factor=final_div_factor,
                      three_phase=three_phase)
        self._start("jaxsched.OneCycleLR", optimizer, last_epoch, kwargs, takes_lr=False,
                    write_momentum=bool(cycle_momentum))
        self._base_lrs = [s.params["max_lr"] / s.params["div_factor"] for s in self.schedules]
        self._momentum_keys()

    @property
    def total_steps(self) -> int:
        return int(self.schedule.params["total_steps"])

    def _step_to(self, counter: int | None) -> None:
        target = self._count + 1 if counter is None else counter
        if isinstance(target, int) and target > self.total_steps:
            raise ValueError(f"Tried to step {target} times. The specified number of total "
                             f"steps is {self.total_steps}")
        super()._step_to(counter)

    def _extra_group_keys(self) -> list[dict[str, Any]]:
        out = []
        for s in self.schedules:
            p = s.params
            initial = p["max_lr"] / p["div_factor"]
            extra = {"initial_lr": initial, "max_lr": p["max_lr"],
                     "min_lr": initial / p["final_div_factor"]}
            if self.cycles_momentum:
                extra.update(max_momentum=p["max_momentum"], base_momentum=p["base_momentum"])
            out.append(extra)
        return out

    def _hyper_state(self) -> dict[str, Any]:
        p = self.schedule.params
        ends = [ph[0] for ph in cyclic.one_cycle_phases(p["total_steps"], p["pct_start"],
                                                       p["three_phase"], 0, 0, 0, 0, 0)]
        if p["three_phase"]:
            keys = [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                    ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                    ("initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            keys = [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                    ("max_lr", "min_lr", "base_momentum", "max_momentum")]
        phases = [{"end_step": end, "start_lr": a, "end_lr": b, "start_momentum": c,
                   "end_momentum": d} for end, (a, b, c, d) in zip(ends, keys, strict=True)]
        state: dict[str, Any] = {"total_steps": p["total_steps"], "_schedule_phases": phases,
                                 "_anneal_func_type": p["anneal_strategy"],
                                 "cycle_momentum": self.cycles_momentum}
        if self.cycles_momentum:
            state["use_beta1"] = self._use_beta1
        return state


def _child_schedules(fn: str, schedulers: Any, n_groups: int) -> list[list[Schedule]]:
    if not isinstance(schedulers, Sequence) or not schedulers:
        raise ValueError(f"{fn}: schedulers must be a non-empty list of jaxsched torch "
                         f"adapters, got {schedulers!r}")
    nested = (SequentialLR, ChainedScheduler)
    for i, s in enumerate(schedulers):
        if not isinstance(s, TorchAdapter) or isinstance(s, nested):
            raise TypeError(f"{fn}: schedulers[{i}] must be a jaxsched torch adapter (not "
                            f"ReduceLROnPlateau, SequentialLR or ChainedScheduler: refused "
                            f"deliberately, since torch steps a later SequentialLR child with "
                            f"step(0), which ChainedScheduler does not take, and a nested "
                            f"composite's state is not one count), got {s!r}")
        if len(s.schedules) != n_groups:
            raise ValueError(f"{fn}: schedulers[{i}] has {len(s.schedules)} param groups, "
                             f"expected {n_groups}")
    return [[s.schedules[g] for s in schedulers] for g in range(n_groups)]


class SequentialLR(TorchAdapter):
    """torch's ``SequentialLR(optimizer, schedulers, milestones)`` over
    ``jaxsched.sequential_lr``, taking jaxsched adapters as torch takes schedulers."""

    def __init__(self, optimizer: Any, schedulers: Sequence[TorchAdapter],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        fn = "jaxsched.SequentialLR"
        groups, le = self._read_torch_groups(fn, optimizer, last_epoch)
        per_group = _child_schedules(fn, schedulers, len(groups))
        schedules = [composite.sequential_lr(children, milestones) for children in per_group]
        self._children = list(schedulers)
        self._milestones = list(schedules[0].params["milestones"])
        self._kwargs = {}
        self._setup(schedules, le + 1, write_momentum=all(c.cycles_momentum
                                                          for c in self._children))

    def _lr_at(self, count: int) -> list[float]:
        saved = self._count
        self._count = count
        try:
            return self.get_last_lr()
        finally:
            self._count = saved

    def _construction_lrs(self) -> list[list[float]]:
        """What each scheduler left in the groups when torch built them in turn on one
        optimizer: recursive schedulers scale the lr they find, the others set their own."""
        setting = {"jaxsched.lambda_lr", "jaxsched.cyclic_lr", "jaxsched.one_cycle_lr",
                   "jaxsched.cosine_annealing_warm_restarts"}
        lrs, out = list(self._base_lrs), []
        for child in self._children:
            first = child.get_last_lr() if child._count == 0 else child._state_at(0)["_last_lr"]
            lrs = [f if sched.name in setting else (lr * f / b if b else 0.0)
                   for lr, f, b, sched in zip(lrs, first, child.base_lrs, child.schedules,
                                              strict=True)]
            out.append(lrs)
        return out

    def state_dict(self) -> dict[str, Any]:
        k, ms = self._count, self._milestones
        active = bisect.bisect_right(ms, k)
        first = bisect.bisect_right(ms, 0)
        built = self._construction_lrs()
        states = []
        for i, child in enumerate(self._children):
            start = ms[i - 1] if i > 0 else 0
            if i == active:
                states.append(child._state_at(k - start, _step_count=k - start + 1,
                                              _last_lr=self.get_last_lr()))
            elif first <= i < active:
                end = ms[i] - 1 - start
                states.append(child._state_at(end, _step_count=end + 1,
                                              _last_lr=self._lr_at(ms[i] - 1)))
            else:  # not started (or skipped by milestones=[0]): undone to -1 by torch
                states.append(child._state_at(0, last_epoch=-1, _step_count=1,
                                              _last_lr=built[i]))
        return {"_milestones": list(ms), "last_epoch": k, "_last_lr": self.get_last_lr(),
                "_schedulers": states}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resumes torch's (or our) SequentialLR state: same milestones and children
        settings (a composite's settings are its children's; see ``ChainedScheduler``)."""
        fn = f"{self._fn}.load_state_dict"
        _composite_keys(fn, "SequentialLR", state_dict,
                        {"_milestones", "last_epoch", "_last_lr", "_schedulers"})
        ms = state_dict["_milestones"]
        if not isinstance(ms, (list, tuple)) or list(ms) != self._milestones:
            raise ValueError(f"{fn}: state_dict has _milestones={ms!r} but this scheduler has "
                             f"{self._milestones!r}")
        count = check_progress(fn, {k: state_dict[k] for k in ("last_epoch", "_last_lr")},
                               len(self._groups))
        _children_states(fn, self._children, state_dict["_schedulers"], len(self._groups),
                         first_epoch=-1)  # children not started yet hold -1
        self._count = count


def _composite_keys(fn: str, kind: str, state_dict: Any, keys: set[str]) -> None:
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
    if set(state_dict) != keys:
        raise ValueError(f"{fn}: state_dict is not a {kind}'s: expected keys {sorted(keys)}, "
                         f"got {sorted(state_dict)}")


def _children_states(fn: str, children: list[TorchAdapter], states: Any, n_groups: int,
                     first_epoch: int = 0) -> list[int]:
    """Validates each child's state (the child's own settings, progress fields of the right
    type) and returns their ``last_epoch``s; changes nothing."""
    if not isinstance(states, list) or len(states) != len(children):
        raise ValueError(f"{fn}: _schedulers must be a list of {len(children)} scheduler "
                         f"states, got {states!r}")
    counts = []
    for i, (child, sd) in enumerate(zip(children, states, strict=True)):
        where = f"{fn} (_schedulers[{i}], a {type(child).__name__})"
        child._check_settings(where, sd, PROGRESS | {"T_cur", "T_i", "lr_lambdas"})
        counts.append(check_progress(where, sd, n_groups, first_epoch=first_epoch))
    return counts


class ChainedScheduler(TorchAdapter):
    """torch's ``ChainedScheduler(schedulers, optimizer=None)`` over
    ``jaxsched.chained_scheduler`` (multiplicative schedulers; see there)."""

    def __init__(self, schedulers: Sequence[TorchAdapter], optimizer: Any = None) -> None:
        fn = "jaxsched.ChainedScheduler"
        if not isinstance(schedulers, Sequence) or not schedulers:
            raise ValueError(f"{fn}: schedulers must be a non-empty list, got {schedulers!r}")
        first = schedulers[0]
        if not isinstance(first, TorchAdapter):
            raise TypeError(f"{fn}: schedulers[0] must be a jaxsched torch adapter, got "
                            f"{first!r}")
        groups = self._read_groups(fn, optimizer if optimizer is not None else first._groups)
        per_group = _child_schedules(fn, schedulers, len(groups))
        schedules = [composite.chained_scheduler(children) for children in per_group]
        self._children = list(schedulers)
        self._base_lrs = [s.params["lr"] for s in schedules]
        self._kwargs = {}
        self._setup(schedules, 0, write_momentum=False)
        for index, child in enumerate(self._children):
            child._chain = (self, index)

    def step(self, epoch: int | None = None) -> None:
        """Steps every chained scheduler, as torch does."""
        if epoch is not None:
            raise TypeError("jaxsched.ChainedScheduler.step takes no epoch (as in torch)")
        self._step_to(None)  # at the top of the count range this raises before any child moves
        for child in self._children:
            child._count = self._count

    def _child_last_lr(self, i: int) -> list[float]:
        """What torch's scheduler ``i`` records: in torch's step each scheduler scales the lr
        the previous ones left, so it holds lr * prod_{j<=i} r_j(k) * prod_{j>i} r_j(k-1),
        with r_j = s_j / lr."""
        k = self._count
        now = [c._state_at(k)["_last_lr"] for c in self._children]
        before = [c._state_at(k - 1)["_last_lr"] if k > 0 else list(c.base_lrs)
                  for c in self._children]
        lrs = []
        for g, base in enumerate(self._base_lrs):
            value = base
            for j in range(len(self._children)):
                if j > i and k == 0:
                    continue  # at construction the later ones did not exist yet
                value = value * ((now if j <= i else before)[j][g] / base) if base else 0.0
            lrs.append(value)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        states = [dict(child._state_at(self._count), _last_lr=self._child_last_lr(i))
                  for i, child in enumerate(self._children)]
        return {"_last_lr": self.get_last_lr(), "_schedulers": states}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resumes torch's (or our) ChainedScheduler state: every child's settings must be
        this chain's (the chain's curve is built from them) and all at one ``last_epoch``."""
        fn = f"{self._fn}.load_state_dict"
        _composite_keys(fn, "ChainedScheduler", state_dict, {"_last_lr", "_schedulers"})
        lr_list(fn, "_last_lr", state_dict["_last_lr"], len(self._groups), signed=True)
        counts = set(_children_states(fn, self._children, state_dict["_schedulers"],
                                      len(self._groups)))
        if len(counts) != 1:
            raise ValueError(f"{fn}: the _schedulers disagree on last_epoch: {sorted(counts)}")
        count = counts.pop()
        for child in self._children:
            child._count = count
        self._count = count
