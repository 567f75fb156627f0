"""The torch-style stateful shell: a step count plus the pure schedules it evaluates.

An adapter never computes a learning rate itself. It holds a count, and when asked for
``get_last_lr()`` or ``param_groups`` it evaluates its pure ``Schedule`` objects at that count
(one compiled call per count for all groups, in float64 on the host CPU backend whatever the
default device, cached), so ``step()`` is a Python increment: no device sync, no compile.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxsched.core import checks as check
from jaxsched.core.hyperparams import apply_hyperparams, injected_states, read_value
from jaxsched.core.schedule import Schedule, _rebuild

__all__ = ["Adapter", "parse_optimizer"]


def _scalar(fn: str, name: str, value: Any) -> float:
    """A hyperparameter as the user wrote it. A float32 (or narrower) array, as optax's
    ``inject_hyperparams`` stores them, is read as the shortest decimal that rounds to it:
    ``float32(0.1)`` is 0.10000000149..., and the user (and torch) scheduled 0.1."""
    if isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    try:
        arr = np.asarray(read_value(value))
        value = float(arr)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a scalar, got {value!r}") from None
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8 and np.isfinite(value):
        value = float(str(arr.astype(np.float32)[()]))  # numpy's shortest round-trip repr
    return check.nonneg(fn, name, value)


def parse_optimizer(fn: str, optimizer: Any) -> list[dict[str, Any]]:
    """Reads the param groups of what was passed as ``optimizer``.

    Accepted: a float (one group's lr), a sequence of floats, a sequence of torch-style
    group dicts (``{"lr": ..., "momentum": ...}`` or ``{"lr": ..., "betas": (b1, b2)}``),
    an optax ``inject_hyperparams`` state (``learning_rate`` and ``momentum`` or ``b1``/``b2``
    read from its hyperparams), or a torch optimizer (anything with ``param_groups``).
    """
    if isinstance(optimizer, bool):
        raise TypeError(f"{fn}: optimizer must be an lr, a list of lrs or param-group dicts, "
                        f"or an optax inject_hyperparams state, got {optimizer!r}")
    if isinstance(optimizer, numbers.Real):
        return [{"lr": _scalar(fn, "optimizer", optimizer)}]
    if hasattr(optimizer, "param_groups") and not isinstance(optimizer, Adapter):
        return parse_optimizer(fn, list(optimizer.param_groups))
    injected = injected_states(optimizer)
    if injected:
        hyper = injected[0].hyperparams
        group: dict[str, Any] = {"lr": _scalar(fn, "hyperparams['learning_rate']",
                                               hyper["learning_rate"])}
        if "momentum" in hyper and hyper["momentum"] is not None:
            group["momentum"] = _scalar(fn, "hyperparams['momentum']", hyper["momentum"])
        if "b1" in hyper:
            b2 = hyper.get("b2", 0.999)
            group["betas"] = (_scalar(fn, "hyperparams['b1']", hyper["b1"]),
                              _scalar(fn, "hyperparams['b2']", b2))
        return [group]
    if isinstance(optimizer, Sequence) and not isinstance(optimizer, (str, bytes)):
        if not optimizer:
            raise ValueError(f"{fn}: optimizer has no param groups, got {optimizer!r}")
        groups = []
        for i, g in enumerate(optimizer):
            if isinstance(g, Mapping):
                if "lr" not in g:
                    raise ValueError(f"{fn}: optimizer[{i}] (a param group) has no 'lr', got "
                                     f"{dict(g)!r}")
                group = {k: v for k, v in g.items() if k != "params"}
                group["lr"] = _scalar(fn, f"optimizer[{i}]['lr']", g["lr"])
                if g.get("momentum") is not None:
                    group["momentum"] = _scalar(fn, f"optimizer[{i}]['momentum']", g["momentum"])
                if g.get("betas") is not None:
                    betas = tuple(g["betas"])
                    group["betas"] = tuple(_scalar(fn, f"optimizer[{i}]['betas']", b)
                                           for b in betas)
                groups.append(group)
            elif isinstance(g, numbers.Real) and not isinstance(g, bool):
                groups.append({"lr": _scalar(fn, f"optimizer[{i}]", g)})
            else:
                raise TypeError(f"{fn}: optimizer must be an lr, a list of lrs or param-group "
                                f"dicts, or an optax state with injected hyperparameters "
                                f"(optax.inject_hyperparams); optimizer[{i}] is {g!r}")
        return groups
    raise TypeError(f"{fn}: optimizer must be an lr, a list of lrs or param-group dicts, an "
                    f"optax inject_hyperparams state or a torch optimizer, got {optimizer!r}")


def host_cpu() -> Any:
    """The CPU device host-side evaluation runs on."""
    return jax.local_devices(backend="cpu")[0]


class Adapter:
    """Base of every torch/DeepSpeed-style adapter: a count, groups and pure schedules.

    Subclasses set ``_counter_name`` and ``_counter_offset`` (DeepSpeed's
    ``last_batch_iteration`` is ``k - 1`` at step ``k``; torch's ``last_epoch`` is ``k``) and
    build ``schedules`` in their constructor.
    """

    _counter_name = "last_batch_iteration"
    _counter_offset = -1
    _max_count = check.MAX_COUNT  # the largest count step() and load_state_dict accept

    def _read_groups(self, fn: str, optimizer: Any) -> list[dict[str, Any]]:
        """Step 1 of a constructor: the param groups, read from ``optimizer``."""
        self._fn = fn
        self._groups = parse_optimizer(fn, optimizer)
        return self._groups

    def _setup(self, schedules: Sequence[Schedule], count: int, *,
               write_momentum: bool) -> None:
        """Step 2 of a constructor: the per-group schedules and the starting count."""
        self.schedules: list[Schedule] = list(schedules)
        self._write_momentum = write_momentum and all(s.momentum is not None
                                                      for s in self.schedules)
        self._count = count
        self._compile()

    def _compile(self) -> None:
        """The compiled evaluation of every group's schedule (rebuilt after unpickling)."""
        self._cache: tuple[int, list[float], list[float] | None] | None = None
        moms = self._write_momentum
        scheds = self.schedules

        def evaluate(c: jax.Array) -> tuple[Any, Any]:
            lrs = jnp.stack([s(c) for s in scheds])
            return lrs, (jnp.stack([s.momentum(c) for s in scheds]) if moms else None)

        self._evaluate = jax.jit(evaluate)

    _TRANSIENT = ("_cache", "_evaluate")  # compiled, rebuilt by _compile on unpickling

    _pickles_as_call = True  # a factory returning an adapter records its call in _origin
    _origin: tuple[Any, tuple[Any, ...], dict[str, Any]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickling (``pickle``, ``torch.save``, spawn): everything but the compiled
        evaluation; the schedules pickle as the calls that made them."""
        return {k: v for k, v in self.__dict__.items() if k not in type(self)._TRANSIENT}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "__state_dict__" in state:  # rebuilt by the factory call: resume its state
            self.load_state_dict(state["__state_dict__"])
            return
        self.__dict__.update(state)
        self._compile()

    def __reduce_ex__(self, protocol: Any) -> Any:
        """An adapter a factory built around its own closures (``transformers``'
        ``get_scheduler``) pickles as that call plus its state dict; any other as its
        attributes."""
        if self._origin is not None:
            return _rebuild, self._origin, {"__state_dict__": self.state_dict()}
        return super().__reduce_ex__(protocol)

    @property
    def schedule(self) -> Schedule:
        """The pure schedule of param group 0."""
        return self.schedules[0]

    @property
    def cycles_momentum(self) -> bool:
        """Whether this adapter writes momentum / beta1 into its param groups."""
        return self._write_momentum

    def _values(self) -> tuple[list[float], list[float] | None]:
        if self._cache is None or self._cache[0] != self._count:
            if self._count > self._max_count:
                raise OverflowError(f"{self._fn}: step count {self._count} exceeds "
                                    f"{limit_name(self._max_count)}")
            # The host-side front end evaluates in float64 whatever the global mode, as
            # torch's Python floats do; jitted training code uses the pure schedules.
            lrs, moms = jax.device_get(self._device_values())
            self._cache = (self._count, [float(x) for x in lrs],
                           None if moms is None else [float(x) for x in moms])
        return self._cache[1], self._cache[2]

    def _device_values(self) -> tuple[Any, Any]:
        """The lrs (and momenta) at the count as arrays on the host CPU backend: the count is
        committed to the CPU device, so the compiled evaluation runs there whatever the
        default device (on a GPU each read would otherwise be a dispatch and a sync; TPUs
        have no float64)."""
        with jax.enable_x64(True):
            return self._evaluate(jax.device_put(np.int64(self._count), host_cpu()))

    def get_last_lr(self) -> list[float]:
        """The lr in force now, one float per param group."""
        return list(self._values()[0])

    def get_last_momentum(self) -> list[float] | None:
        """The momentum / beta1 in force now per group, or ``None`` if it is not scheduled."""
        moms = self._values()[1]
        return None if moms is None else list(moms)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The param groups as the reference leaves them: ``lr`` (and the scheduled
        ``momentum`` or ``betas``) in force now, other keys as given."""
        lrs, moms = self._values()
        groups = copy.deepcopy(self._groups)
        for g, group in enumerate(groups):
            group["lr"] = lrs[g]
            if moms is not None:
                self._write_group_momentum(group, moms[g])
        return groups

    def apply(self, state: Any) -> Any:
        """``state`` with this adapter's lr (and momentum / beta1) in force now written into
        its injected hyperparameters: an optax ``inject_hyperparams`` state (also inside a
        chain or ``multi_transform``), a flax ``TrainState`` or an ``nnx.Optimizer`` (updated
        in place). Dtypes, weak types and shardings are kept, so a jitted step taking the
        state compiles once however often the lr changes.

        Raises:
            TypeError: if ``state`` holds no injected hyperparameters.
            ValueError: if it holds a different number of them than param groups (>1).
        """
        return apply_hyperparams(f"{self._fn}.apply", state, self.get_last_lr(),
                                 self.get_last_momentum())

    def _write_group_momentum(self, group: dict[str, Any], value: float) -> None:
        if "betas" in group:
            group["betas"] = (value, group["betas"][1])
        else:
            group["momentum"] = value

    def _step_to(self, counter: int | None) -> None:
        if counter is None:
            if self._count >= self._max_count:  # the top of the count range
                raise OverflowError(f"{self._fn}.step: the step count is at "
                                    f"{limit_name(self._max_count)}, the last one this "
                                    f"scheduler's schedule is exact at; it stays there")
            self._count += 1
        else:
            counter = check.integer(f"{self._fn}.step", self._counter_name, counter,
                                    minimum=self._counter_offset,
                                    maximum=self._max_count + self._counter_offset)
            self._count = counter - self._counter_offset

    def state_dict(self) -> dict[str, Any]:
        return {self._counter_name: self._count + self._counter_offset}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores the count. A dict that is not this scheduler's raises and changes nothing."""
        fn = f"{self._fn}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
        expected = set(self.state_dict())
        if set(state_dict) != expected:
            raise ValueError(f"{fn}: state_dict must have exactly the keys {sorted(expected)}, "
                             f"got {sorted(state_dict)}")
        counter = check.integer(fn, self._counter_name, state_dict[self._counter_name],
                                minimum=self._counter_offset,
                                maximum=self._max_count + self._counter_offset)
        self._count = counter - self._counter_offset

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._counter_name}="
                f"{self._count + self._counter_offset}, lr={self.get_last_lr()})")


def limit_name(limit: int) -> str:
    """``2**31-1`` / ``2**63-1`` for a power-of-two limit, else the number."""
    e = (limit + 1).bit_length() - 1
    return f"2**{e}-1" if limit + 1 == 2**e else str(limit)


def warn_momentum_disabled(fn: str) -> None:
    warnings.warn(f"{fn}: cycle_momentum is disabled because a param group has no 'betas' "
                  f"(DeepSpeed cycles momentum only on optimizers with betas)", UserWarning,
                  stacklevel=3)

