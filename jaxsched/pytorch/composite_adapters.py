"""torch's composites as adapters (torch 2.13 names and signatures): ``SequentialLR`` and
``ChainedScheduler`` over other jaxsched torch adapters, with the pure forms of
``jaxsched.pytorch.composite``. Their state dicts hold each child's, as torch's do."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from jaxsched.core import checks as check
from jaxsched.core.checks import MAX_COUNT
from jaxsched.core.schedule import Schedule
from jaxsched.core.state import check_progress, lr_list
from jaxsched.pytorch import chain, composite
from jaxsched.pytorch.adapters import TorchAdapter
from jaxsched.pytorch.chain import check_children as _check_children
from jaxsched.pytorch.chain import children_states as _children_states
from jaxsched.pytorch.chain import composite_keys as _composite_keys

__all__ = ["ChainedScheduler", "SequentialLR"]


def _child_schedules(fn: str, schedulers: Any, n_groups: int,
                     base_lrs: list[float] | None = None,
                     store: Any = None) -> list[list[Schedule]]:
    _check_children(fn, schedulers, n_groups, base_lrs,
                    nested=(SequentialLR, ChainedScheduler), store=store)
    for i, s in enumerate(schedulers):
        if len(s.schedules) != n_groups:
            raise ValueError(f"{fn}: schedulers[{i}] ({type(s).__name__}) has no pure schedule "
                             f"(its lr_lambda is called on the host); give a jnp-traceable one")
    return [[s.schedules[g] for s in schedulers] for g in range(n_groups)]


class SequentialLR(TorchAdapter):
    """torch's ``SequentialLR(optimizer, schedulers, milestones)`` over
    ``jaxsched.sequential_lr``, taking jaxsched adapters as torch takes schedulers."""

    _max_count = MAX_COUNT  # its schedule is exact to 2**31-1 (cycle tables, children)

    def __init__(self, optimizer: Any, schedulers: Sequence[TorchAdapter],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        fn = "jaxsched.SequentialLR"
        groups, le = self._read_torch_groups(fn, optimizer, last_epoch)
        if isinstance(schedulers, Sequence) and any(isinstance(s, ChainedScheduler)
                                                    for s in schedulers):
            self._host_init(fn, list(schedulers), milestones, le)
            return
        per_group = _child_schedules(fn, schedulers, len(groups), self._base_lrs, self._store)
        self._store = None  # its values are its pure schedule's, whoever shares the optimizer
        schedules = [composite.sequential_lr(children, milestones) for children in per_group]
        self._children = list(schedulers)
        self._milestones = list(schedules[0].params["milestones"])
        self._kwargs = {}
        self._setup(schedules, le + 1, write_momentum=all(c.cycles_momentum
                                                          for c in self._children))

    _host = False  # True: a ChainedScheduler child; torch's steps run on the host

    def _host_init(self, fn: str, children: list[TorchAdapter], milestones: Any,
                   le: int) -> None:
        """torch's SequentialLR literally, over group lrs its children share: reset to the
        initial lrs, the first scheduler's constructor step (a ChainedScheduler steps each of
        its children from ``last_epoch = -1``, not in torch's initial mode), then each step
        the active child's ``step()``, or at its milestone its ``_update_lr(0)``."""
        _check_children(fn, children, len(self._groups), self._base_lrs,
                        nested=(SequentialLR,), store=self._store)
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
            raise TypeError(f"{fn}: milestones must be a sequence of integers, got "
                            f"{milestones!r}")
        ms = [check.integer(fn, f"milestones[{i}]", m, minimum=0)
              for i, m in enumerate(milestones)]
        if len(ms) != len(children) - 1 or any(b <= a for a, b in itertools.pairwise(ms)):
            raise ValueError(f"{fn}: milestones must be {len(children) - 1} strictly "
                             f"increasing steps (one fewer than schedulers), got {ms!r}")
        first = bisect.bisect_right(ms, 0)
        for i, child in enumerate(children):
            if isinstance(child, ChainedScheduler) and i != first:
                raise NotImplementedError(
                    f"{fn}: schedulers[{i}] is a ChainedScheduler, started at milestone "
                    f"{ms[i - 1]} by torch's SequentialLR with _update_lr(0), which "
                    f"ChainedScheduler does not implement: torch raises NotImplementedError "
                    f"at that step")
        lead = children[first]
        if not lead._host:
            lead._link(fn, self._base_lrs)
        links = lead._links
        for i, child in enumerate(children):
            if i != first and child._store not in (None, links):
                raise ValueError(f"{fn}: torch expects all schedulers to belong to the same "
                                 f"optimizer; schedulers[{i}] was built on another one")
        for i, child in enumerate(children):
            if i != first:
                child._store, child._rec = links, None
        links.set(self._base_lrs)  # torch resets the groups to their initial_lr
        for grandchild in lead._children:  # undone to -1, then stepped to 0
            chain.force(grandchild, 0, initial=False, closed=False)
        lead._count, lead._last = 0, links.lrs
        lead._initial = {"_step_count": 0, "_is_initial": False}  # torch's _initial_step
        self._children, self._milestones, self._kwargs = children, ms, {}
        self._host, self._links, self._store = True, links, None
        self.schedules, self._write_momentum, self._count = [], False, le + 1
        self._cache = None

    def _compile(self) -> None:
        if not self._host:
            super()._compile()

    def _values(self) -> tuple[list[float], list[float] | None]:
        if self._host:
            return self._links.lrs, None
        return super()._values()

    def step(self, epoch: int | None = None) -> None:
        """One step of torch's SequentialLR (deprecated ``step(epoch)``: the closed form)."""
        if not self._host:
            super().step(epoch)
            return
        if epoch is not None:
            raise TypeError("jaxsched.SequentialLR.step takes no epoch here (as in torch)")
        self._count += 1
        active = bisect.bisect_right(self._milestones, self._count)
        child = self._children[active]
        if active > 0 and self._milestones[active - 1] == self._count:
            chain.force(child, 0, initial=False, closed=True)
        else:
            child.step()

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
            first = child._state_at(0)["_last_lr"]  # its closed form, not a shared recursion
            lrs = [f if sched.name in setting else (lr * f / b if b else 0.0)
                   for lr, f, b, sched in zip(lrs, first, child.base_lrs, child.schedules,
                                              strict=True)]
            out.append(lrs)
        return out

    def state_dict(self) -> dict[str, Any]:
        k, ms = self._count, self._milestones
        active = bisect.bisect_right(ms, k)
        first = bisect.bisect_right(ms, 0)
        if self._host:  # the children's own states; those not started yet undone to -1
            return {"_milestones": list(ms), "last_epoch": k, "_last_lr": self.get_last_lr(),
                    "_schedulers": [c.state_dict() if first <= i <= active else
                                    c._state_at(0, last_epoch=-1, _step_count=1)
                                    for i, c in enumerate(self._children)]}
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
        if self._host:
            self._host_load(fn, state_dict, count)
            return
        _children_states(fn, self._children, state_dict["_schedulers"], len(self._groups),
                         first_epoch=-1)  # children not started yet hold -1
        self._count = count

    def _host_load(self, fn: str, state_dict: Mapping[str, Any], count: int) -> None:
        states = state_dict["_schedulers"]
        lead = next(c for c in self._children if isinstance(c, ChainedScheduler))
        if not isinstance(states, list) or len(states) != len(self._children):
            raise ValueError(f"{fn}: _schedulers must be a list of {len(self._children)} "
                             f"scheduler states, got {states!r}")
        others = [(c, sd) for c, sd in zip(self._children, states, strict=True)
                  if c is not lead]
        _children_states(fn, [c for c, _ in others], [sd for _, sd in others],
                         len(self._groups), first_epoch=-1)  # all checked before any change
        index = self._children.index(lead)
        try:
            lead.load_state_dict(states[index])  # validates all before it changes anything
        except (TypeError, ValueError) as err:
            raise type(err)(f"{fn} (_schedulers[{index}]): {err}") from None
        for child, sd in others:
            if sd["last_epoch"] == -1:  # not started
                child._count, child._rec = 0, None
            else:
                child.load_state_dict(sd)
        self._links.set(state_dict["_last_lr"])
        self._count = count


class ChainedScheduler(TorchAdapter):
    """torch's ``ChainedScheduler(schedulers, optimizer=None)``: every scheduler steps in
    turn, each on the lr the previous ones left, as torch's do.

    Over multiplicative schedulers it is ``jaxsched.chained_scheduler`` (their product, exact).
    With a scheduler that does not scale the lr it finds by a factor of the step alone
    (``CosineAnnealingLR``'s recursive form rescales it by a ratio of cosines; ``LambdaLR``,
    ``CyclicLR``, ... set their own), or children built on one torch optimizer, the chain runs
    torch's recursion on the host: the children share the chain's param-group lrs, each
    constructed (in order) and stepped on what the previous ones left, in Python floats in
    torch's order of operations. That curve has no closed form, so ``schedules`` is then empty.

    Example:
        >>> import jaxsched
        >>> cos = jaxsched.CosineAnnealingLR(0.1, T_max=4)
        >>> decay = jaxsched.StepLR(0.1, step_size=2, gamma=0.5)
        >>> sched = jaxsched.ChainedScheduler([cos, decay])
        >>> for _ in range(2):
        ...     sched.step()
        >>> round(sched.get_last_lr()[0], 12)
        0.025
    """

    _max_count = MAX_COUNT  # its schedule is exact to 2**31-1 (cycle tables, children)
    _host = False  # True: torch's recursion on the host over shared group lrs (``_links``)

    def __init__(self, schedulers: Sequence[TorchAdapter], optimizer: Any = None) -> None:
        fn = "jaxsched.ChainedScheduler"
        if not isinstance(schedulers, Sequence) or not schedulers:
            raise ValueError(f"{fn}: schedulers must be a non-empty list, got {schedulers!r}")
        first = schedulers[0]
        if not isinstance(first, TorchAdapter):
            _check_children(fn, schedulers[:1], 1)  # ReduceLROnPlateau: torch's ValueError
            raise TypeError(f"{fn}: schedulers[0] must be a jaxsched torch adapter, got "
                            f"{first!r}")
        groups = self._read_groups(fn, optimizer if optimizer is not None else first._groups)
        base = [float(g.get("initial_lr", g["lr"])) for g in
                (groups if optimizer is not None else first._groups)]
        store = (first._store if optimizer is None
                 else chain.groups_of(optimizer, [g["lr"] for g in groups]))
        _check_children(fn, schedulers, len(groups), base,
                        nested=(SequentialLR, ChainedScheduler), store=store)
        self._children = list(schedulers)
        self._kwargs = {}
        if all(c.schedules and c._store is None
               and all(s.name in composite.MULTIPLICATIVE for s in c.schedules)
               for c in self._children):
            per_group = _child_schedules(fn, schedulers, len(groups), base)
            schedules = [composite.chained_scheduler(children) for children in per_group]
            self._base_lrs = [s.params["lr"] for s in schedules]
            self._setup(schedules, 0, write_momentum=False)
            for index, child in enumerate(self._children):
                child._chain = (self, index)
            return
        self._base_lrs = base
        self._link(fn, base)

    def _link(self, fn: str, base: list[float]) -> None:
        """Host mode: the children share one ``chain.Groups`` (their torch optimizer's, or a
        new one on which each child's constructor step is replayed in order, as torch built
        them on one optimizer)."""
        stores = list({id(c._store): c._store for c in self._children}.values())
        if len(stores) > 1:
            raise ValueError(f"{fn}: torch expects all schedulers to belong to the same "
                             f"optimizer; these were built on {len(stores)} different ones")
        links = stores[0]
        if links is None:
            initial = None
            for i, child in enumerate(self._children):  # all checks before any change
                initial = chain.check_base(f"{fn}: schedulers[{i}]", child, initial)
            links = chain.Groups(base)
            for child in self._children:
                child._store, child._rec, child._chain = links, None, None
                child.__dict__.pop("_steps", None)
                if getattr(child, "_host", False):  # a host-called lambda: torch's initial step
                    links.initial = chain.check_base(fn, child, links.initial)
                    child._lrs = list(child._base_lrs)
                    child._host_step(child._count)
                else:
                    chain.join(child)
        self._host, self._links, self._last = True, links, links.lrs
        self._movers = [c for c in self._children if c.cycles_momentum]  # the last one's
        self.schedules, self._write_momentum, self._count = [], bool(self._movers), 0
        self._cache = None

    _initial: Mapping[str, Any] = MappingProxyType({})  # torch's bookkeeping once a
    # SequentialLR stepped it first (_step_count 0, _is_initial False)

    def _compile(self) -> None:
        if not self._host:
            super()._compile()

    def _values(self) -> tuple[list[float], list[float] | None]:
        if self._host:  # the lrs after its last step (the groups' unless others stepped since)
            return list(self._last), (self._movers[-1]._values()[1] if self._movers else None)
        return super()._values()

    def step(self, epoch: int | None = None) -> None:
        """Steps every chained scheduler, as torch does."""
        if epoch is not None:
            raise TypeError("jaxsched.ChainedScheduler.step takes no epoch (as in torch)")
        if self._host:
            for child in self._children:
                child.step()
            self._count, self._last = self._count + 1, self._links.lrs
            return
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
        if self._host:
            return {"_last_lr": self.get_last_lr(), **self._initial,
                    "_schedulers": [child.state_dict() for child in self._children]}
        states = [dict(child._state_at(self._count), _last_lr=self._child_last_lr(i))
                  for i, child in enumerate(self._children)]
        return {"_last_lr": self.get_last_lr(), "_schedulers": states}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resumes torch's (or our) ChainedScheduler state: every child's settings must be
        this chain's (the chain's curve is built from them) and all at one ``last_epoch``."""
        fn = f"{self._fn}.load_state_dict"
        _composite_keys(fn, "ChainedScheduler", state_dict,
                        {"_last_lr", "_schedulers"} | set(self._initial))
        last = lr_list(fn, "_last_lr", state_dict["_last_lr"], len(self._groups), signed=True)
        counts = set(_children_states(fn, self._children, state_dict["_schedulers"],
                                      len(self._groups)))
        if len(counts) != 1:
            raise ValueError(f"{fn}: the _schedulers disagree on last_epoch: {sorted(counts)}")
        count = counts.pop()
        if self._host:  # each child resumes from its own record, the groups from the chain's
            for child, sd in zip(self._children, state_dict["_schedulers"], strict=True):
                child.load_state_dict(sd)
            self._links.set(last)
            self._count, self._last = count, list(last)
            return
        for child in self._children:
            child._count = count
        self._count = count
