"""torch's cyclic family as adapters (torch 2.13 names and signatures):
``CosineAnnealingWarmRestarts``, ``CyclicLR`` and ``OneCycleLR``, over the pure schedules of
``jaxsched.pytorch.cyclic``. ``CyclicLR`` and ``OneCycleLR`` also cycle the momentum (or Adam's
beta1) of every param group, as torch does."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from jaxsched.core import checks as check
from jaxsched.core.checks import MAX_PY_COUNT
from jaxsched.core.schedule import group_schedules
from jaxsched.core.state import PROGRESS, check_progress, check_settings, lr_list
from jaxsched.pytorch import cyclic, one_cycle
from jaxsched.pytorch import schedules as pytorch
from jaxsched.pytorch.adapters import TorchAdapter

__all__ = ["CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]


def restart_position(k: int, t0: int, mult: int) -> tuple[int, int]:
    """(T_cur, T_i) at step ``k``: torch's sequential restart bookkeeping, on the host."""
    if mult == 1:
        return k % t0, t0
    t_i = t0
    while k >= t_i:
        k -= t_i
        t_i *= mult
    return k, t_i


class CosineAnnealingWarmRestarts(TorchAdapter):
    """torch's ``CosineAnnealingWarmRestarts`` over
    ``jaxsched.cosine_annealing_warm_restarts``.

    ``step(epoch + i / iters)``, the usage torch's docstring shows, is supported exactly as
    torch computes it: ``T_cur`` and ``T_i`` from torch's own formula (a float ``T_cur``),
    ``last_epoch = floor(epoch)``, and the lr from torch's ``get_lr`` on the host; a plain
    ``step()`` after it goes on from that fractional position, as torch's does. An ``int``
    epoch and plain steps from a whole position use the pure schedule (the sequential
    restart table: torch's float log can land one cycle early at an exact restart). The state dict
    carries the fractional ``T_cur`` both ways.
    """

    _pos: tuple[float, int] | None = None  # (T_cur, T_i) after a fractional step(epoch)

    def step(self, epoch: float | None = None) -> None:
        fn = f"{self._fn}.step"
        if epoch is None and self._pos is not None:
            t_cur, t_i = self._pos[0] + 1, self._pos[1]
            if t_cur >= t_i:  # torch's sequential restart
                t_cur, t_i = t_cur % t_i, t_i * self._kwargs["T_mult"]
            self._step_to(None)
            self._pos = (t_cur, t_i)
            return
        if isinstance(epoch, numbers.Real) and not isinstance(epoch, (bool, numbers.Integral)):
            epoch = check.real(fn, "epoch", epoch)  # a float epoch: torch's formula
            if epoch < 0:
                raise ValueError(f"{fn}: Expected non-negative epoch, but got {epoch}")
            pos = fractional_position(epoch, self._kwargs["T_0"], self._kwargs["T_mult"])
            self._step_to(math.floor(epoch))
            self._pos = pos
            return
        self._step_to(epoch)  # None or a whole epoch: the sequential path (torch: no warning)
        self._pos = None

    # its schedule's restart table reaches 2**63-1 (x64 on the host), exact there
    _max_count = MAX_PY_COUNT

    _factory = staticmethod(cyclic.cosine_annealing_warm_restarts)

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1,
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self._start("jaxsched.CosineAnnealingWarmRestarts", optimizer, last_epoch,
                    dict(T_0=T_0, T_mult=T_mult, eta_min=eta_min))

    def _values(self) -> tuple[list[float], list[float] | None]:
        if self._pos is None:
            return super()._values()
        t_cur, t_i = self._pos
        eta = self._kwargs["eta_min"]  # torch's get_lr, in Python floats
        return [eta + (base - eta) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
                for base in self._base_lrs], None

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self._pos is None:
            t_cur, t_i = restart_position(self._count, self._kwargs["T_0"],
                                          self._kwargs["T_mult"])
        else:
            t_cur, t_i = self._pos
        state.update(T_0=self._kwargs["T_0"], T_i=t_i, T_mult=self._kwargs["T_mult"],
                     eta_min=self._kwargs["eta_min"], T_cur=t_cur, _step_count=0)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self._pending: tuple[float, int] | None = None
        super().load_state_dict(state_dict)
        self._pos = self._pending

    def _check_position(self, fn: str, state_dict: Mapping[str, Any], count: int,
                        kwargs: dict[str, Any]) -> None:
        want = restart_position(count, kwargs["T_0"], kwargs["T_mult"])
        got = (state_dict["T_cur"], state_dict["T_i"])
        if got == want:
            return
        # a fractional step(epoch) state: T_i = T_0 * T_mult**n, 0 <= T_cur < T_i
        t_cur = check.real(fn, "T_cur", state_dict["T_cur"])
        t_i = check.integer(fn, "T_i", state_dict["T_i"], minimum=1, maximum=2**62)
        lengths, n = [kwargs["T_0"]], 0
        while kwargs["T_mult"] > 1 and lengths[-1] < t_i and n < 64:
            lengths.append(lengths[-1] * kwargs["T_mult"])
            n += 1
        if t_i not in lengths or not 0 <= t_cur < t_i:
            raise ValueError(f"{fn}: T_cur={state_dict['T_cur']!r}, T_i={state_dict['T_i']!r} "
                             f"are no position of this schedule (after last_epoch={count} "
                             f"steps: T_cur={want[0]}, T_i={want[1]}; after a fractional "
                             f"step(epoch): T_i = T_0 * T_mult**n and 0 <= T_cur < T_i)")
        self._pending = (t_cur, t_i)


def fractional_position(epoch: float, t0: int, mult: int) -> tuple[float, int]:
    """torch's ``(T_cur, T_i)`` after ``step(epoch)`` for a fractional ``epoch``, computed
    as torch does (a float log for the cycle index)."""
    if epoch < t0:
        return epoch, t0
    if mult == 1:
        return epoch % t0, t0
    n = int(math.log((epoch / t0 * (mult - 1) + 1), mult))
    return epoch - t0 * (mult**n - 1) / (mult - 1), t0 * mult**n


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

    _ADOPTED = ("base_lrs", "max_lrs", "total_size", "step_ratio", "mode", "gamma",
                "scale_mode", "base_momentums", "max_momentums")

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resumes from torch's (or our) state dict and, as torch's load (an update of the
        scheduler's attributes) does, adopts its lrs, cycle sizes, mode and scale settings
        and momenta; any other setting must be this scheduler's. A bad dict raises and
        changes nothing."""
        fn = f"{self._fn}.load_state_dict"
        ours = self.state_dict()
        check_settings(fn, "CyclicLR", state_dict, ours, PROGRESS | set(self._ADOPTED))
        n, sd = len(self._groups), state_dict
        try:
            total = check.integer(fn, "total_size", sd["total_size"], minimum=1)
            ratio = check.real(fn, "step_ratio", sd["step_ratio"])
            up = round(ratio * total)
            if not 1 <= up <= total or up / float(total) != ratio:
                raise ValueError(f"{fn}: step_ratio={ratio!r} of total_size={total} is no "
                                 f"whole step_size_up")
            kw = dict(self._kwargs, base_lr=lr_list(fn, "base_lrs", sd["base_lrs"], n),
                      max_lr=lr_list(fn, "max_lrs", sd["max_lrs"], n), step_size_up=up,
                      step_size_down=total - up, mode=sd["mode"], gamma=sd["gamma"],
                      scale_mode=sd["scale_mode"])
            if self.cycles_momentum:
                kw.update(base_momentum=lr_list(fn, "base_momentums", sd["base_momentums"], n,
                                                signed=True),
                          max_momentum=lr_list(fn, "max_momentums", sd["max_momentums"], n,
                                               signed=True))
            schedules = group_schedules(fn, cyclic.cyclic_lr, n, kw)
        except (TypeError, ValueError) as err:
            text = str(err).removeprefix(f"{fn}: ")
            raise type(err)(f"{fn}: the state_dict's settings are not valid: {text}") from None
        count = check_progress(fn, sd, n)
        self._kwargs, self._base_lrs = kw, [s.params["base_lr"] for s in schedules]
        self._setup(schedules, count, write_momentum=self._write_momentum)

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
        ends = [ph[0] for ph in one_cycle.one_cycle_phases(p["total_steps"], p["pct_start"],
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
