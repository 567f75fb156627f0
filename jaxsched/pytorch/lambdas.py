"""torch's LambdaLR and MultiplicativeLR (torch 2.13) as pure functions of the step: the
user's lambda, traced (a jnp-traceable function) or tabulated on the host."""

from __future__ import annotations

import math
import numbers
import types
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxsched.core import checks as check
from jaxsched.core.exact import float_dtype
from jaxsched.core.schedule import Schedule, schedule_factory

__all__ = ["is_plain_function", "lambda_lr", "multiplicative_lr", "table_lookup", "traceable"]

def table_lookup(table: list[float], index: jax.Array) -> jax.Array:
    """``table[index]``: values computed on the host, in Python floats."""
    return jnp.asarray(table, float_dtype())[index]


def traceable(fn: str, name: str, f: Any, hint: str = "") -> Callable[..., Any]:
    """Checks eagerly that ``f`` maps an integer step to a scalar under ``jax.jit``."""
    if not callable(f):
        raise TypeError(f"{fn}: {name} must be callable, got {f!r}")
    try:
        out = jax.eval_shape(f, jax.ShapeDtypeStruct((), jnp.int32))
    except Exception as err:  # any failure to trace is the user's function's
        raise TypeError(f"{fn}: {name} must be a jnp-traceable function of the step (it is "
                        f"called on a traced integer array), got {f!r}: "
                        f"{type(err).__name__}: {str(err).splitlines()[0]}{hint}") from None
    if getattr(out, "shape", None) != () and not isinstance(out, (int, float)):
        raise TypeError(f"{fn}: {name} must return a scalar, got shape "
                        f"{getattr(out, 'shape', None)} from {f!r}")
    return f


HORIZON_HINT = (" (not traced: pass horizon=N to tabulate it on the host over steps 0..N, or "
                "use the adapter, which calls any Python callable on the host as torch does)")


def tabulated(fn: str, lr_lambda: Any, horizon: Any, lr: float, product: bool) -> Schedule:
    """The schedule of a host-only lambda: ``lr * f(k)`` (or torch's running product) for
    ``k`` in ``0..horizon``, computed in Python floats as torch does; NaN past the horizon."""
    if not callable(lr_lambda):
        raise TypeError(f"{fn}: lr_lambda must be callable, got {lr_lambda!r}")
    n = check.integer(fn, "horizon", horizon, minimum=0, maximum=10**7)
    values, v = [], lr
    for k in range(n + 1):
        if product:
            v = v if k == 0 else v * lr_lambda(k)
        else:
            v = lr * lr_lambda(k)
        if isinstance(v, (bool, str)) or not isinstance(v, numbers.Real) or math.isnan(v):
            raise ValueError(f"{fn}: lr_lambda({k}) gives the lr {v!r}; a real number is "
                             f"needed at every step of the horizon")
        values.append(float(v))
    table = [*values, math.nan]

    def lr_fn(k: jax.Array) -> jax.Array:
        return jnp.asarray(table, float_dtype())[jnp.minimum(k, n + 1)]

    return Schedule(lr_fn, name=fn, params=dict(lr_lambda=lr_lambda, lr=lr, horizon=n))


@schedule_factory
def lambda_lr(lr_lambda: Callable[[jax.Array], Any], *, lr: float,
              horizon: int | None = None) -> Schedule:
    """torch's LambdaLR: ``lr * lr_lambda(k)``.

    Args:
        lr_lambda: a jnp-traceable function of the integer step (``jnp.where``, not ``if``);
            with ``horizon``, any Python callable (``if``/``else``, ``math.*``, lookups).
        lr: the optimizer's lr.
        horizon: tabulate ``lr_lambda`` on the host over steps ``0..horizon`` instead of
            tracing it (the schedule is NaN past the horizon, never a silent value).

    Returns:
        A ``Schedule``.

    Raises:
        TypeError: if ``lr_lambda`` cannot be traced or does not return a scalar.
        ValueError: if ``lr`` is negative or not finite.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.lambda_lr(lambda k: 0.5 ** k, lr=1.0)
        >>> [float(s(k)) for k in range(4)]
        [1.0, 0.5, 0.25, 0.125]

    Matches ``torch.optim.lr_scheduler.LambdaLR`` of torch 2.13.0.
    """
    fn = "jaxsched.lambda_lr"
    base = check.nonneg(fn, "lr", lr)
    if horizon is not None:
        return tabulated(fn, lr_lambda, horizon, base, product=False)
    f = traceable(fn, "lr_lambda", lr_lambda, HORIZON_HINT)
    return Schedule(lambda k: base * f(k), name=fn, params=dict(lr_lambda=f, lr=base))


@schedule_factory
def multiplicative_lr(lr_lambda: Callable[[jax.Array], Any], *, lr: float,
                      horizon: int | None = None) -> Schedule:
    """torch's MultiplicativeLR: ``lr(0) = lr``, ``lr(k) = lr(k-1) * lr_lambda(k)``.

    The product is taken exactly as torch does, one factor at a time in step order
    (``lax.fori_loop``), so float64 agrees with torch to the last bit the lambda allows.
    Cost: O(k) multiplications per evaluation (a loop of ``k`` iterations under jit), so
    evaluating at step 10**6 runs 10**6 iterations; prefer ``lambda_lr`` with a closed-form
    product when the run is long. The lambda is traced once at construction (on an abstract
    integer, never a concrete step) to validate it eagerly; torch first calls it at the first
    ``step()``.

    Args:
        lr_lambda: a jnp-traceable function of the integer step giving the factor; with
            ``horizon``, any Python callable.
        lr: the optimizer's lr.
        horizon: tabulate the running product on the host over steps ``0..horizon``
            (``lr_lambda`` is then called on 1..horizon, never on 0, as torch); NaN past it.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: as ``lambda_lr``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.multiplicative_lr(lambda k: 0.5, lr=1.0)
        >>> [float(s(k)) for k in range(4)]
        [1.0, 0.5, 0.25, 0.125]

    Matches ``torch.optim.lr_scheduler.MultiplicativeLR`` of torch 2.13.0.
    """
    fn = "jaxsched.multiplicative_lr"
    base = check.nonneg(fn, "lr", lr)
    if horizon is not None:
        return tabulated(fn, lr_lambda, horizon, base, product=True)
    f = traceable(fn, "lr_lambda", lr_lambda, HORIZON_HINT)

    def lr_fn(k: jax.Array) -> jax.Array:
        # factors f(1) .. f(k): the loop runs i = 0 .. k-1 (no k + 1, which wraps at 2**31-1)
        return lax.fori_loop(jnp.zeros((), k.dtype), k, lambda i, v: v * f(i + 1),
                             jnp.asarray(base, float_dtype()))

    return Schedule(lr_fn, name=fn, params=dict(lr_lambda=f, lr=base))



def is_plain_function(f: Any) -> bool:
    """torch saves a lambda's state only for callable objects, not plain functions."""
    return isinstance(f, types.FunctionType)
