"""The schedule type shared by every port, and the step-count conventions."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxsched.core.exact import float_dtype, to_float  # noqa: F401  (re-exported)
from jaxsched.core.wide import WideCount, evaluate

__all__ = ["Schedule", "per_group", "schedule_factory"]

F = TypeVar("F", bound=Callable[..., Any])


def as_count(count: ArrayLike) -> jax.Array:
    """Turns a step count into a non-negative integer array of JAX's default int type.

    Floating counts are floored; negative counts are clamped to 0 (the value in force at
    construction). The default int type is int32 (int64 under ``jax_enable_x64``); an int32
    count is exact up to 2**31-1, where optax saturates its own count.
    """
    c = jnp.asarray(count)
    int_dtype = jnp.result_type(int)
    if not jnp.issubdtype(c.dtype, jnp.integer):
        c = jnp.floor(c)
        # Clamp before the cast: float -> int of an out-of-range value is undefined.
        c = jnp.clip(c, 0, jnp.iinfo(int_dtype).max)
    return jnp.maximum(c.astype(int_dtype), 0)


class Schedule:
    """A learning-rate schedule: a pure, jit-safe function of the step count.

    ``s(k)`` is the value in force at training step ``k`` (``k = 0`` is the first update,
    which is what optax's ``count`` gives), so a ``Schedule`` drops in wherever optax
    takes a schedule (``optax.sgd(learning_rate=s)``, ``optax.inject_hyperparams``).
    It works under ``jax.jit`` and ``jax.vmap``; the count may be a Python int or any
    integer (or floating, floored) array. Negative counts give the step-0 value. A
    ``jaxsched.WideCount`` (two uint32 limbs) gives the value at counts past 2**31-1 without
    x64: the schedule's float32 formula at the exact int64 count (``jaxsched.core.wide``).

    A schedule pickles (``pickle``, ``torch.save``, multiprocessing with spawn) as the call
    that made it: a factory's schedule as the factory and its arguments (rebuilt on load,
    so values are identical), a subclass (Keras's) as its constructor call, and a plain
    ``Schedule(fn)`` as ``fn``, which must then be picklable itself (a module-level
    function; a lambda is not, as for torch's ``LambdaLR``).

    Attributes:
        momentum: a ``Schedule`` of momentum (SGD) or beta1 (Adam-like) for schedules that
            cycle momentum, else ``None``.
        name: the factory that made it, e.g. ``"jaxsched.one_cycle"``.
        params: the validated arguments it was made from.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.Schedule(lambda k: 0.1 * (k + 1), name="linear")
        >>> round(float(s(2)), 6)
        0.3
    """

    __slots__ = ("__weakref__", "_fn", "_origin", "momentum", "name", "params")  # (jit: weakrefs)

    def __new__(cls, *args: Any, **kwargs: Any) -> Schedule:
        self = super().__new__(cls)
        # the call that made it, for pickling; a factory's wrapper replaces it by its own call
        self._origin = (cls, args, kwargs)
        return self

    def __init__(
        self,
        fn: Callable[[jax.Array], ArrayLike],
        *,
        momentum: Schedule | None = None,
        name: str = "schedule",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"jaxsched.Schedule: fn must be callable, got {fn!r}")
        if momentum is not None and not isinstance(momentum, Schedule):
            raise TypeError(
                f"jaxsched.Schedule: momentum must be a Schedule or None, got {momentum!r}"
            )
        self._fn = fn
        self.momentum = momentum
        self.name = name
        self.params = dict(params or {})

    def __call__(self, count: ArrayLike | WideCount) -> jax.Array:
        if isinstance(count, WideCount):  # int64 count, caller's floats (jaxsched.core.wide)
            return evaluate(self, count)
        return jnp.asarray(self._fn(as_count(count)), dtype=float_dtype())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<Schedule {self.name}({args})>"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, self._origin


def _rebuild(make: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Unpickling: the schedule the same call makes now."""
    return make(*args, **kwargs)


def _holds(container: Any, obj: Any) -> bool:
    if container is obj:
        return True
    if isinstance(container, (list, tuple)):
        return any(_holds(c, obj) for c in container)
    if isinstance(container, Mapping):
        return any(_holds(c, obj) for c in container.values())
    return False


def schedule_factory(factory: F) -> F:
    """Marks a module-level function returning a ``Schedule``: the schedule remembers the
    call (function and arguments), so it pickles as that call. A schedule the factory was
    given and returns unchanged keeps its own origin.

    Example:
        >>> import pickle, jaxsched
        >>> s = pickle.loads(pickle.dumps(jaxsched.step_lr(2, gamma=0.5, lr=1.0)))
        >>> float(s(4))
        0.25
    """

    @functools.wraps(factory)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = factory(*args, **kwargs)
        as_call = isinstance(out, Schedule) or getattr(out, "_pickles_as_call", False)
        if as_call and not _holds((args, kwargs), out):  # (an adapter built around a closure)
            out._origin = (wrapper, args, kwargs)
        return out

    return wrapper  # type: ignore[return-value]


def per_group(
    factory: Callable[..., Schedule], n_groups: int | None = None, **kwargs: Any
) -> list[Schedule]:
    """Builds one schedule per param group from per-group lists, as DeepSpeed and torch do.

    Each keyword that is a list or tuple gives one value per group; any other keyword is
    broadcast to every group. ``n_groups`` defaults to the length of the lists.

    Args:
        factory: a schedule factory such as ``jaxsched.warmup_lr``.
        n_groups: the number of param groups, or ``None`` to take it from the lists.
        **kwargs: the factory's keyword arguments, scalars or per-group lists.

    Returns:
        A list of ``n_groups`` schedules.

    Raises:
        ValueError: if the lists disagree in length with each other or with ``n_groups``.

    Example:
        >>> import jaxsched
        >>> s0, s1 = jaxsched.per_group(jaxsched.lr_range_test,
        ...                             lr_range_test_min_lr=[0.1, 0.2])
        >>> round(float(s1(0)), 6)
        0.2
    """
    return group_schedules(f"jaxsched.{getattr(factory, '__name__', 'factory')}", factory,
                           n_groups, kwargs)


def group_schedules(fn: str, factory: Callable[..., Schedule], n_groups: int | None,
                    kwargs: Mapping[str, Any], shared: tuple[str, ...] = ()) -> list[Schedule]:
    """``per_group`` with the caller's name in its error messages; the keywords in
    ``shared`` are sequences given whole to every group (e.g. ``milestones``)."""
    lengths = {k: len(v) for k, v in kwargs.items()
               if isinstance(v, (list, tuple)) and k not in shared}
    n = n_groups
    for key, length in lengths.items():
        if n is None:
            n = length
        elif length != n:
            raise ValueError(
                f"{fn}: expected {n} values for {key} (one per param group), "
                f"got {length}: {kwargs[key]!r}"
            )
    n = 1 if n is None else n
    if n < 1:
        raise ValueError(f"{fn}: expected at least one param group, got empty lists: "
                         f"{ {k: kwargs[k] for k in lengths} or n_groups!r}")
    own = f"jaxsched.{getattr(factory, '__name__', '')}: "
    out = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for g in range(n):
            try:
                out.append(factory(**{k: (v[g] if k in lengths else v)
                                      for k, v in kwargs.items()}))
            except (TypeError, ValueError) as err:  # name the caller (an adapter)
                text = str(err)
                if not text.startswith(own) or fn + ": " == own:
                    raise
                group = f" (param group {g})" if n > 1 else ""
                raise type(err)(f"{fn}{group}: {text[len(own):]}") from None
    seen = set()  # a factory's warning once, naming the caller, however many groups gave it
    for w in caught:
        text = str(w.message)
        if text.startswith(own):
            text = f"{fn}: {text[len(own):]}"
        if (w.category, text) not in seen:
            seen.add((w.category, text))
            warnings.warn(text, w.category, stacklevel=4)
    return out
