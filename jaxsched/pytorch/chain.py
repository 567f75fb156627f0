"""torch's chainable composition on the host: schedulers that share one optimizer's lrs.

torch's schedulers keep their state in the optimizer: most ``get_lr`` read the lr in each
param group and rescale it (StepLR multiplies it by ``gamma``, CosineAnnealingLR by a ratio of
cosines), so two schedulers stepping one optimizer, or a ``ChainedScheduler``, compose through
the group lrs. A jaxsched adapter keeps to its exact closed form while the group lrs are the
ones it left; once another scheduler changed them, it runs torch's recursive ``get_lr`` on the
host, in Python floats in torch's order of operations (``recursive_lrs``).

``Groups`` is the shared lr state of one optimizer: adapters built on the same torch optimizer
object share one (``groups_of``; jaxsched never writes into the torch optimizer), and a
``ChainedScheduler`` links its children into one.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from jaxsched.core.adapter import Adapter
from jaxsched.core.plateau import ReduceLROnPlateau
from jaxsched.core.state import PROGRESS, check_progress

__all__ = ["RECURSIVE", "Chainable", "Groups", "check_base", "check_children", "children_states",
           "composite_keys", "force", "groups_of", "join", "loaded", "recursive_lrs", "stepped"]

# torch's schedulers whose get_lr rescales the lr it finds in the group; the others
# (LambdaLR, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts) set their own.
RECURSIVE = frozenset({"StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                       "PolynomialLR", "CosineAnnealingLR", "MultiplicativeLR"})
_CLOSED_FORM = RECURSIVE - {"MultiplicativeLR"}  # torch's _get_closed_form_lr, for step(epoch)


class Groups:
    """The lrs in one optimizer's param groups, as torch's schedulers of it share them: those
    of the adapter that stepped last (``owner``), read when asked, else fixed values."""

    def __init__(self, lrs: list[float]) -> None:
        self._fixed = [float(x) for x in lrs]
        self.owner: Any = None
        self.initial: list[float] | None = None  # torch's group["initial_lr"], once set

    @property
    def lrs(self) -> list[float]:
        return list(self._fixed) if self.owner is None else self.owner._own_lrs()

    def set(self, lrs: list[float]) -> None:
        self._fixed, self.owner = [float(x) for x in lrs], None

    def take(self, adapter: Any) -> None:
        """``adapter`` has just written its lrs into the groups."""
        self.owner = adapter


_SHARED: weakref.WeakKeyDictionary[Any, Groups] = weakref.WeakKeyDictionary()


def groups_of(optimizer: Any, lrs: list[float]) -> Groups | None:
    """The ``Groups`` shared by every adapter built on ``optimizer``, when it is an optimizer
    object (a torch optimizer: anything with ``param_groups`` that can be weakly referenced);
    ``None`` for an lr, a list of lrs or dicts, or an optax state (values, not shared)."""
    if not hasattr(optimizer, "param_groups"):
        return None
    try:
        groups = _SHARED.get(optimizer)
        if groups is None:
            groups = _SHARED[optimizer] = Groups(lrs)
    except TypeError:  # not weakly referenceable or not hashable: nothing to share
        return None
    return groups


def recursive_lrs(adapter: Any, live: list[float], epoch: int, initial: bool,
                  step_count: int) -> list[float]:
    """torch 2.13's ``get_lr`` of ``adapter``'s class at ``last_epoch = epoch`` on the group
    lrs ``live``, branch for branch (``initial``: torch's ``_is_initial``, the constructor's
    step). Python floats, torch's order of operations."""
    name, kw, bases = type(adapter).__name__, adapter._kwargs, adapter._base_lrs
    if name == "StepLR":
        if epoch == 0 or epoch % kw["step_size"] != 0:
            return list(live)
        return [lr * float(kw["gamma"]) for lr in live]
    if name == "MultiStepLR":
        counts = Counter(kw["milestones"])
        if epoch not in counts:
            return list(live)
        return [lr * float(kw["gamma"]) ** counts[epoch] for lr in live]
    if name == "ConstantLR":
        factor = float(kw["factor"])
        if epoch == 0:
            return [lr * factor for lr in live]
        if epoch != kw["total_iters"]:
            return list(live)
        return [lr * (1.0 / factor) for lr in live]
    if name == "LinearLR":
        start, end, total = float(kw["start_factor"]), float(kw["end_factor"]), kw["total_iters"]
        if epoch == 0:
            return [lr * start for lr in live]
        if initial or epoch > total:
            return list(live)
        return [lr * (1.0 + (end - start) / (total * start + (epoch - 1) * (end - start)))
                for lr in live]
    if name == "ExponentialLR":
        return list(live) if initial else [lr * float(kw["gamma"]) for lr in live]
    if name == "PolynomialLR":
        total, power = kw["total_iters"], float(kw["power"])
        if initial or epoch > total:
            return list(live)
        decay = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** power
        return [lr * decay for lr in live]
    if name == "CosineAnnealingLR":
        t_max, eta = kw["T_max"], float(kw["eta_min"])
        if initial:
            return list(live)
        if step_count == 1 and epoch > 0:
            return [eta + (base - eta) * (1 + math.cos((epoch) * math.pi / t_max)) / 2
                    for base in bases]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            return [lr + (base - eta) * (1 - math.cos(math.pi / t_max)) / 2
                    for lr, base in zip(live, bases, strict=True)]
        return [(1 + math.cos(math.pi * epoch / t_max))
                / (1 + math.cos(math.pi * (epoch - 1) / t_max)) * (lr - eta) + eta
                for lr in live]
    if name == "MultiplicativeLR":
        if initial:
            return list(live)
        return [lr * _real(adapter, f(epoch), epoch, g)
                for g, (lr, f) in enumerate(zip(live, adapter._lambdas, strict=True))]
    raise TypeError(f"{adapter._fn}: torch's {name} does not rescale the lr it finds")


def _real(adapter: Any, value: Any, epoch: int, group: int) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, (bool, str)) or math.isnan(out):
        raise ValueError(f"{adapter._fn}.step: lr_lambda gives the factor {value!r} at step "
                         f"{epoch} (param group {group}); a real number is needed")
    return out


def _initial_lrs(adapter: Any) -> list[float]:
    """The ``initial_lr`` torch's scheduler would set in fresh groups: CyclicLR writes its
    ``base_lr`` into the groups first, OneCycleLR ``max_lr / div_factor``."""
    name = type(adapter).__name__
    if name == "CyclicLR":
        return [float(s.params["base_lr"]) for s in adapter.schedules]
    if name == "OneCycleLR":
        return [float(s.params["max_lr"] / s.params["div_factor"]) for s in adapter.schedules]
    return list(adapter._base_lrs)


def check_base(fn: str, adapter: Any, initial: list[float] | None) -> list[float]:
    """Raises unless ``adapter``'s ``base_lrs`` are the ``initial_lr`` torch's scheduler
    would find in groups that hold ``initial`` (``None``: fresh ones); returns the groups'
    ``initial_lr`` after its constructor."""
    name = type(adapter).__name__
    if initial is None or name == "OneCycleLR":
        return _initial_lrs(adapter)
    if name != "CyclicLR" and list(adapter._base_lrs) != initial:
        raise ValueError(f"{fn}: {name} has base_lrs {list(adapter._base_lrs)}, but torch's, "
                         f"built after the schedulers before it on one optimizer, takes the "
                         f"groups' 'initial_lr' {initial} (a CyclicLR built first or a "
                         f"OneCycleLR sets it), which jaxsched does not model: build it before "
                         f"them")
    return initial


def join(adapter: Any) -> None:
    """The constructor's step of ``adapter`` on its shared groups: torch's initial ``get_lr``
    on the lrs it finds, unless they are its ``base_lrs`` (then its closed form is torch's).
    A CyclicLR built on groups that already have an ``initial_lr`` starts from it (torch's
    constructor steps with the inherited ``base_lrs`` before setting its own)."""
    store = adapter._store
    initial = check_base(adapter._fn, adapter, store.initial)
    adapter._steps = 1
    live = store.lrs
    adapter._rec = None
    name = type(adapter).__name__
    if name in RECURSIVE and live != list(adapter._base_lrs):
        adapter._rec = recursive_lrs(adapter, live, adapter._count, True, 1)
    elif name == "CyclicLR" and store.initial is not None and adapter._count == 0:
        adapter._rec = list(store.initial)
    store.initial = initial
    store.take(adapter)


def stepped(adapter: Any, live: list[float], mine: list[float], sequential: bool) -> None:
    """After ``adapter`` advanced its count: its lrs from the group lrs ``live`` it found
    (``mine``: the ones it had left). ``step(epoch)`` is torch's closed form where torch has
    one."""
    adapter._steps = getattr(adapter, "_steps", adapter._count) + 1
    name = type(adapter).__name__
    if name not in RECURSIVE:
        adapter._rec = None  # it sets its own lrs (a CyclicLR's inherited start is over)
    else:
        if not sequential and name in _CLOSED_FORM:
            adapter._rec = None
        elif not sequential or adapter._rec is not None or live != mine:
            adapter._rec = recursive_lrs(adapter, live, adapter._count, False, adapter._steps)
    adapter._store.take(adapter)


def force(adapter: Any, epoch: int, *, initial: bool, closed: bool) -> None:
    """torch's ``_update_lr(epoch)`` (``closed``: its closed form where the class has one)
    or a step from ``last_epoch = epoch - 1`` (``closed=False``) on the shared groups."""
    live, name = adapter._store.lrs, type(adapter).__name__
    adapter._count, adapter._rec = epoch, None
    if getattr(adapter, "_pos", None) is not None:
        adapter._pos = None  # CosineAnnealingWarmRestarts: back on its integer positions
    if not closed:
        adapter._steps = getattr(adapter, "_steps", 1) + 1
    if getattr(adapter, "_host", False) and adapter._product:
        adapter._lrs = recursive_lrs(adapter, live, epoch, initial, adapter._steps)
    elif getattr(adapter, "_host", False):
        adapter._host_step(epoch)
    elif name in RECURSIVE and not (closed and name in _CLOSED_FORM):
        adapter._rec = recursive_lrs(adapter, live, epoch, initial, adapter._steps)
    adapter._store.take(adapter)


def loaded(adapter: Any, state_dict: Any) -> None:
    """After ``adapter`` loaded a state dict: it goes on from the lrs the dict records (what
    torch's optimizer holds after its step), and those are the groups' now."""
    steps = state_dict.get("_step_count")
    adapter._steps = steps if isinstance(steps, int) else adapter._count + 1
    adapter._rec = None
    if type(adapter).__name__ in RECURSIVE:
        saved = [float(x) for x in state_dict["_last_lr"]]
        if saved != adapter._own_lrs():
            adapter._rec = saved
    adapter._store.take(adapter)


class Chainable(Adapter):
    """An adapter whose lrs may live in ``Groups`` shared with other schedulers (the base of
    the torch adapters): its closed form while the groups hold its own lrs, torch's
    recursion once another scheduler changed them."""

    _store: Groups | None = None  # the lrs shared with the other schedulers of its optimizer
    _rec: list[float] | None = None  # torch's recursive lrs, once others changed the groups

    def _setup(self, schedules: Sequence[Any], count: int, *, write_momentum: bool) -> None:
        super()._setup(schedules, count, write_momentum=write_momentum)
        if self._store is not None and "_steps" not in self.__dict__:
            join(self)  # the constructor's step on the shared group lrs

    @property
    def schedule(self) -> Any:
        """The pure schedule of param group 0.

        Raises:
            TypeError: when the lrs are computed on the host, as torch does (a composite over
                a recursive chain, a lambda that does not trace): no pure schedule exists.
        """
        if not self.schedules:
            raise TypeError(f"{self._fn}: no pure schedule: its lrs follow torch's recursion "
                            f"(or a host-called lambda) on the host; read get_last_lr() or "
                            f"write them into an optax state with apply(state)")
        return self.schedules[0]

    def _own_lrs(self) -> list[float]:
        """The lrs this scheduler left in the groups (what torch's ``_last_lr`` holds)."""
        return list(self._values()[0])

    def _values(self) -> tuple[list[float], list[float] | None]:
        if self._rec is not None:
            return list(self._rec), (super()._values()[1] if self._write_momentum else None)
        return super()._values()

    def _step_to(self, counter: int | None) -> None:
        if self._store is None:
            super()._step_to(counter)
            return
        live, mine = self._store.lrs, self._own_lrs()
        super()._step_to(counter)
        stepped(self, live, mine, counter is None)


def composite_keys(fn: str, kind: str, state_dict: Any, keys: set[str]) -> None:
    """Raises unless ``state_dict`` is a dict with exactly the keys of a ``kind``'s."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
    if set(state_dict) != keys:
        raise ValueError(f"{fn}: state_dict is not a {kind}'s: expected keys {sorted(keys)}, "
                         f"got {sorted(state_dict)}")


def children_states(fn: str, children: list[Any], states: Any, n_groups: int,
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


def check_children(fn: str, schedulers: Any, n_groups: int,
                    base_lrs: list[float] | None = None, *, nested: tuple[type, ...] = (),
                    store: Any = None) -> None:
    """torch's checks of a composite's schedulers (ReduceLROnPlateau: torch's ValueError),
    plus one optimizer: the same number of groups and lrs (``base_lrs``) for all, and no
    other torch optimizer than the composite's (``store``, its shared group lrs)."""
    kind = fn.rsplit(".", 1)[-1]
    if not isinstance(schedulers, Sequence) or not schedulers:
        raise ValueError(f"{fn}: schedulers must be a non-empty list of jaxsched torch "
                         f"adapters, got {schedulers!r}")
    for i, s in enumerate(schedulers):
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{fn}: {kind} does not support `ReduceLROnPlateau` scheduler as "
                             f"it requires additional kwargs to be specified when calling "
                             f"`step`, but got one at index {i} in the given schedulers "
                             f"sequence.")
        if not isinstance(s, Chainable) or isinstance(s, nested):
            raise TypeError(f"{fn}: schedulers[{i}] must be a jaxsched torch adapter (not "
                            f"{' or '.join(n.__name__ for n in nested) or 'a composite'}: "
                            f"refused deliberately, a nested composite's state is not one "
                            f"count), got {s!r}")
        if len(s._groups) != n_groups:
            raise ValueError(f"{fn}: schedulers[{i}] has {len(s._groups)} param groups, "
                             f"expected {n_groups}")
        if store is not None and s._store not in (None, store):
            raise ValueError(f"{fn}: schedulers[{i}] ({type(s).__name__}) was built on another "
                             f"torch optimizer; torch expects all schedulers to belong to the "
                             f"same optimizer")
        own = [float(g.get("initial_lr", g["lr"])) for g in s._groups]  # its optimizer's
        if base_lrs is not None and own != list(base_lrs):
            raise ValueError(f"{fn}: schedulers[{i}] ({type(s).__name__}) was built on an "
                             f"optimizer with lrs {own}, not this one's {base_lrs}; "
                             f"torch expects all schedulers to belong to the same optimizer")
