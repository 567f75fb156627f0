"""The schedule type shared by every port, and the step-count conventions."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["Schedule", "per_group"]


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


def float_dtype() -> Any:
    """The dtype schedules compute in: float64 under ``jax_enable_x64``, else float32."""
    return jnp.result_type(float)


def to_float(x: ArrayLike) -> jax.Array:
    """Casts an integer array to the schedule float dtype."""
    return jnp.asarray(x).astype(float_dtype())


class Schedule:
    """A learning-rate schedule: a pure, jit-safe function of the step count.

    ``s(k)`` is the value in force at training step ``k`` (``k = 0`` is the first update,
    which is what optax's ``count`` gives), so a ``Schedule`` drops in wherever optax
    takes a schedule (``optax.sgd(learning_rate=s)``, ``optax.inject_hyperparams``).
    It works under ``jax.jit`` and ``jax.vmap``; the count may be a Python int or any
    integer (or floating, floored) array. Negative counts give the step-0 value.

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

    __slots__ = ("__weakref__", "_fn", "momentum", "name", "params")  # jax.jit needs weakrefs

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

    def __call__(self, count: ArrayLike) -> jax.Array:
        return jnp.asarray(self._fn(as_count(count)), dtype=float_dtype())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<Schedule {self.name}({args})>"


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
    return [
        factory(**{k: (v[g] if k in lengths else v) for k, v in kwargs.items()})
        for g in range(n)
    ]



_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for float64


def _split(a: Any) -> tuple[Any, Any]:
    t = a * _SPLIT
    hi = t - (t - a)
    return hi, a - hi


def divide(num: ArrayLike, den: int) -> jax.Array:
    """``num / den`` for an integer array ``num`` and a positive Python int ``den``,
    correctly rounded in float64 as Python's ``float(num) / float(den)`` is.

    XLA:CPU divides by a constant with a reciprocal multiply, which is off by one ulp for
    about 1 in 80 quotients; reference schedules that feed such a quotient to a periodic
    function (a cosine past its end, a ``% 1.0``) would then differ at far steps. In float64
    the three floats nearest the approximate quotient are tested with an exact residual
    (Dekker's two-product), and the nearest to the true quotient wins. Both arguments must
    be below 2**53. In float32 this is a plain division.
    """
    x = to_float(num)
    d = float(den)
    q = x / d
    if float_dtype() != jnp.float64:
        return q
    d_hi, d_lo = _split(d)

    def residual(c: jax.Array) -> jax.Array:  # x - c*d, exactly (Sterbenz: x - p is exact)
        p = c * d
        c_hi, c_lo = _split(c)
        err = ((c_hi * d_hi - p) + c_hi * d_lo + c_lo * d_hi) + c_lo * d_lo
        return jnp.abs((x - p) - err)

    down, up = jnp.nextafter(q, -jnp.inf), jnp.nextafter(q, jnp.inf)
    r_q, r_down, r_up = residual(q), residual(down), residual(up)
    best = jnp.where(r_down < r_q, down, q)
    return jnp.where(r_up < jnp.minimum(r_q, r_down), up, best)


def cos_pi(x: jax.Array) -> jax.Array:
    """``cos(pi * x)``. float64 computes exactly that, following the references' operations;
    float32 computes ``sin(pi/2 - pi * x)``, the same to float32 rounding and cheaper on
    XLA:CPU, whose float32 sine is faster than its cosine."""
    if float_dtype() == jnp.float64:
        return jnp.cos(math.pi * x)
    return jnp.sin(math.pi / 2 - math.pi * x)
