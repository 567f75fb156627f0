"""torch-style adapters (torch 2.13 class names and constructor signatures) over the pure
schedules of ``jaxsched.pytorch.schedules``: the base ``TorchAdapter`` and the decay family.
The cyclic family is in ``cyclic_adapters``, the composites in ``composite_adapters``.

``optimizer`` is an lr, a list of lrs or param-group dicts, an optax ``inject_hyperparams``
state, or a torch optimizer. ``state_dict()`` has the keys and values of torch 2.13's
scheduler after the same steps; ``load_state_dict`` takes torch's (or ours), checks that its
settings are this scheduler's, raises and changes nothing if not, and otherwise resumes at
its ``last_epoch``. To resume in torch from ours, restore the optimizer's lrs too (as a
checkpoint does): torch's recursive schedulers continue from the lr in the group.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from jaxsched.core import checks as check
from jaxsched.core.schedule import group_schedules
from jaxsched.core.state import PROGRESS, check_progress, check_settings, lr_list
from jaxsched.pytorch import chain
from jaxsched.pytorch import schedules as pytorch

__all__ = ["ConstantLR", "CosineAnnealingLR", "ExponentialLR", "LambdaLR", "LinearLR",
           "MultiStepLR", "MultiplicativeLR", "PolynomialLR", "StepLR", "TorchAdapter"]


class _Chain(Protocol):
    """What a child sees of the ``ChainedScheduler`` that owns it (no import of
    ``composite_adapters``, which imports this module)."""

    def _child_last_lr(self, index: int) -> list[float]: ...


EPOCH_DEPRECATION = ("The epoch parameter in `scheduler.step()` was not necessary and is being "
                     "deprecated where possible. Please use `scheduler.step()` to step the "
                     "scheduler.")


class TorchAdapter(chain.Chainable):
    """Base of the torch adapters: ``last_epoch`` is the step ``k``; torch's state dict."""

    _counter_name = "last_epoch"
    _counter_offset = 0
    # torch's last_epoch is a Python int; the host evaluates the pure schedule on an int64
    # (x64), exact there to 2**63-1 (tests/test_wide_counts.py); a scheduler whose schedule
    # is exact only to 2**31-1 (warm restarts, user lambdas, composites) says so itself
    _max_count = check.MAX_PY_COUNT
    _factory: Any = None

    def _read_torch_groups(self, fn: str, optimizer: Any,
                           last_epoch: int) -> tuple[list[dict[str, Any]], int]:
        """The param groups, the validated ``last_epoch``, and torch's ``base_lrs`` (each
        group's ``initial_lr``, else its ``lr``)."""
        groups = self._read_groups(fn, optimizer)
        le = check.integer(fn, "last_epoch", last_epoch, minimum=-1,
                           maximum=self._max_count - 1)
        self._base_lrs = [float(g.get("initial_lr", g["lr"])) for g in groups]
        self._store = chain.groups_of(optimizer, [g["lr"] for g in groups])
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
        steps = self.__dict__.get("_steps", k + 1) if self._store is not None else k + 1
        state.update(base_lrs=list(self._base_lrs), last_epoch=k, _step_count=steps,
                     _is_initial=False, _get_lr_called_within_step=False,
                     _last_lr=self.get_last_lr())
        return state

    def _state_at(self, count: int, **override: Any) -> dict[str, Any]:
        """The state dict this scheduler would have at ``count``, with torch's bookkeeping
        overrides (used for the schedulers inside SequentialLR and ChainedScheduler)."""
        saved, rec, self._raw, self._rec = self._count, self._rec, True, None
        self._count = max(count, 0)
        try:
            state = self.state_dict()
        finally:
            self._count, self._raw, self._rec = saved, False, rec
        if "_step_count" in override and state.get("_step_count") == 0:
            del override["_step_count"]  # CosineAnnealingWarmRestarts never counts steps
        state.update(override)
        return state

    def _check_settings(self, fn: str, state_dict: Any, progress: frozenset = PROGRESS) -> None:
        check_settings(fn, type(self).__name__, state_dict, self.state_dict(), progress)

    _adopts = True  # False: settings that cannot be read back from torch's dict must match
    _chain: tuple[_Chain, int] | None = None  # set when a ChainedScheduler owns it
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
        count = check_progress(fn, state_dict, n, max_count=self._max_count)
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
        if self._store is not None:
            chain.loaded(self, state_dict)

    def _check_position(self, fn: str, state_dict: Mapping[str, Any], count: int,
                        kwargs: dict[str, Any]) -> None:
        """Extra consistency checks of a subclass's progress fields (before any change)."""


def _lambdas_state(lambdas: Sequence[Any]) -> list[Any]:
    return [None if pytorch.is_plain_function(f) else dict(vars(f)) for f in lambdas]


def _host_only(fn: str, f: Any) -> bool:
    """Whether ``f`` (callable) must be called on the host: it does not trace to a scalar."""
    if not callable(f):
        raise TypeError(f"{fn}: lr_lambda must be callable, got {f!r}")
    try:
        pytorch.traceable(fn, "lr_lambda", f)
    except TypeError:
        return True
    return False


class _LambdaAdapter(TorchAdapter):
    _host = False  # the lambdas are plain Python callables, called on the host as torch does
    _product = False  # MultiplicativeLR: the host lrs are a running product
    _max_count = check.MAX_COUNT  # a user function (MultiplicativeLR: k products)

    def __init__(self, optimizer: Any, lr_lambda: Any, last_epoch: int = -1) -> None:
        fn = f"jaxsched.{type(self).__name__}"
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda]
        if not any(_host_only(fn, f) for f in fns):
            self._start(fn, optimizer, last_epoch, dict(lr_lambda=lr_lambda))
            self._lambdas = [s.params["lr_lambda"] for s in self.schedules]
            return
        groups, le = self._read_torch_groups(fn, optimizer, last_epoch)
        if isinstance(lr_lambda, (list, tuple)) and len(fns) != len(groups):
            raise ValueError(f"{fn}: Expected {len(groups)} lr_lambdas, but got {len(fns)}")
        self._host, self._kwargs = True, dict(lr_lambda=lr_lambda)
        self._lambdas = fns if len(fns) == len(groups) else fns * len(groups)
        self.schedules, self._write_momentum, self._count = [], False, 0
        self._lrs = [float(g["lr"]) for g in groups]  # torch's group lrs (the product's)
        self._compile()
        self._host_step(le + 1)  # torch's constructor step (MultiplicativeLR: no call at 0)

    def _compile(self) -> None:
        if not self._host:
            super()._compile()

    def _host_step(self, count: int) -> None:
        """torch's get_lr at ``last_epoch = count``, on the host in Python floats."""
        if self._product:
            if self._store is not None:  # torch multiplies the lr in the (shared) group
                self._lrs = self._store.lrs
            lrs = [lr * f(count) if count > 0 else lr
                   for lr, f in zip(self._lrs, self._lambdas, strict=True)]
        else:
            lrs = [base * f(count) for base, f in zip(self._base_lrs, self._lambdas, strict=True)]
        for i, v in enumerate(lrs):
            if isinstance(v, (bool, str)) or not isinstance(v, numbers.Real) or math.isnan(v):
                raise ValueError(f"{self._fn}.step: lr_lambda gives the lr {v!r} at step "
                                 f"{count} (param group {i}); a real number is needed")
        self._count, self._lrs = count, [float(v) for v in lrs]
        if self._store is not None:
            self._store.take(self)

    def step(self, epoch: int | None = None) -> None:
        if not self._host:
            return super().step(epoch)
        counter = self._count + 1 if epoch is None else check.integer(
            f"{self._fn}.step", "epoch", epoch, minimum=0)
        self._host_step(counter)
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION, UserWarning, stacklevel=2)

    def _values(self) -> tuple[list[float], list[float] | None]:
        if not self._host:
            return super()._values()
        return list(self._lrs), None

    def _hyper_state(self) -> dict[str, Any]:
        return {"lr_lambdas": _lambdas_state(self._lambdas)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        fn = f"{self._fn}.load_state_dict"
        self._check_settings(fn, state_dict, PROGRESS | {"lr_lambdas"})
        saved = state_dict["lr_lambdas"]
        if not isinstance(saved, list) or len(saved) != len(self._lambdas):
            raise ValueError(f"{fn}: lr_lambdas must be a list of {len(self._lambdas)}, "
                             f"got {saved!r}")
        count = check_progress(fn, state_dict, len(self._groups), max_count=self._max_count)
        for i, attrs in enumerate(saved):
            if attrs is not None and not isinstance(attrs, Mapping):
                raise TypeError(f"{fn}: lr_lambdas[{i}] must be None or a dict of the "
                                f"callable object's attributes, got {attrs!r}")
        lrs = lr_list(fn, "_last_lr", state_dict["_last_lr"], len(self._groups),
                      signed=True) if self._host else None
        for f, attrs in zip(self._lambdas, saved, strict=True):
            if attrs is not None:
                vars(f).update(attrs)
        if self._host:  # torch resumes from the lrs in force (the optimizer's)
            self._count, self._lrs = count, lrs
        else:
            self._setup(self.schedules, count, write_momentum=False)  # recompile, new attrs
        if self._store is not None:
            chain.loaded(self, state_dict)


class LambdaLR(_LambdaAdapter):
    """torch's ``LambdaLR(optimizer, lr_lambda, last_epoch=-1)`` over ``jaxsched.lambda_lr``;
    ``lr_lambda`` (or one per group) may be any Python callable: one that traces runs as the
    pure schedule, any other (``if``/``else`` on the epoch, ``math.*``, lookups) is called on
    the host at each step, as torch does."""

    _factory = staticmethod(pytorch.lambda_lr)


class MultiplicativeLR(_LambdaAdapter):
    """torch's ``MultiplicativeLR(optimizer, lr_lambda, last_epoch=-1)`` over
    ``jaxsched.multiplicative_lr`` (O(k) per read; see there). Any Python callable is
    accepted: one that does not trace is called on the host at each step, as torch does
    (never before the first step)."""

    _product = True

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
