"""Eager argument checks. Every message names the function, the argument and the value."""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import numpy as np

MAX_COUNT = 2**31 - 1  # optax's int32 count saturates here
MAX_EXACT = 2**53 - 1  # the largest count (or phase length) every float64 quotient is exact on
MAX_PY_COUNT = 2**63 - 1  # an adapter's Python-int count (int64 on the host, as torch's)


def scalar(fn: str, name: str, value: Any) -> Any:
    """``value`` as a Python number when it is a 0-d array or tensor of a real, non-boolean
    dtype (a jnp / numpy scalar, ``torch.as_tensor(0.1)``), as torch takes them; a traced
    value raises (a schedule's settings must be concrete: build it outside ``jit``)."""
    if isinstance(value, (numbers.Number, str, bytes)) or not hasattr(value, "shape"):
        return value
    if isinstance(value, jax.core.Tracer):
        raise TypeError(f"{fn}: {name} must be a concrete number, got a traced value "
                        f"{value!r} (build schedules outside jax.jit)")
    try:
        arr = np.asarray(value)
    except Exception:
        return value
    if arr.shape != () or arr.dtype.kind not in "iuf":
        return value
    return arr.item()


def real(fn: str, name: str, value: Any) -> float:
    """A finite real number (not a bool); a 0-d array or tensor is taken as its value."""
    value = scalar(fn, name, value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value!r}")
    return value


def nonneg(fn: str, name: str, value: Any) -> float:
    value = real(fn, name, value)
    if value < 0:
        raise ValueError(f"{fn}: {name} must be >= 0, got {value!r}")
    return value


def unit(fn: str, name: str, value: Any, why: str = "") -> float:
    """A real number in [0, 1] (momentum, beta1, a ratio, a decay factor); ``why`` is added
    to the message (e.g. what the reference would do with the value)."""
    value = real(fn, name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{fn}: {name} must be in [0, 1], got {value!r}{why}")
    return value


GROWTH = " (torch accepts a growth factor > 1 silently; its lr overflows to inf)"


def integer(fn: str, name: str, value: Any, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    """An integer in [minimum, maximum]; an integral float (as JSON configs give) and a 0-d
    integer array are accepted."""
    value = scalar(fn, name, value)
    if isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        value = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        value = int(value)
    else:
        raise TypeError(f"{fn}: {name} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{fn}: {name} must be in [{minimum}, {maximum}], got {value!r}")
    return value


def phase(fn: str, name: str, value: Any, *, minimum: int = 1) -> int:
    """A phase length, period or boundary (``T_max``, ``step_size``, ``num_training_steps``,
    a milestone): an integer in [minimum, 2**53-1], the largest on which every float64
    quotient of two counts is exact. Past 2**31-1 an int32 count (no x64) cannot reach it:
    ``reachable`` refuses that when the schedule is traced."""
    return integer(fn, name, value, minimum=minimum, maximum=MAX_EXACT)


WAYS_OUT = ("enable x64 (jax.config.update('jax_enable_x64', True): counts to 2**63-1, "
            "exact to 2**53), evaluate at a wide count (jaxsched.core.wide), or count in a "
            "larger unit (e.g. iterations, or thousands of samples)")


def reachable(fn: str, name: str, value: Any, count: Any) -> None:
    """Refuses, when a schedule is traced at an int32 count (no x64), a phase or boundary
    ``value`` past 2**31-1: such a count never reaches it, and optax's own int32 count
    saturates silently below it. Called inside a schedule's value function, so it raises in
    Python at trace time (under ``jit`` too), naming the limit and the ways out."""
    top = np.iinfo(count.dtype).max
    if value > top:
        raise ValueError(f"{fn}: {name}={value} is past {count.dtype}'s {_limit(top)}, the "
                         f"largest count without x64: {WAYS_OUT}")


def _limit(top: int) -> str:
    e = (top + 1).bit_length() - 1
    return f"2**{e}-1" if top + 1 == 2**e else str(top)


def boolean(fn: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be a bool, got {value!r}")
    return value


def did_you_mean(word: Any, options: Any) -> str:
    """`` (did you mean 'x'?)`` for a misspelt name close to one of ``options``, else ''."""
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def choice(fn: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{fn}: {name} must be one of {options}, got "
                         f"{value!r}{did_you_mean(value, options)}")
    return value


def known_keywords(fn: str, given: Any, allowed: Any, what: str = "parameter") -> None:
    """Refuses a keyword ``fn`` does not take, suggesting the closest and listing all."""
    allowed = sorted(allowed)
    for key in given:
        if key not in allowed:
            raise TypeError(f"{fn}: unknown {what} {key!r}{did_you_mean(key, allowed)}; "
                            f"valid: {', '.join(allowed)}")


def ordered(fn: str, low_name: str, low: float, high_name: str, high: float,
            why: str = "") -> None:
    if low > high:
        raise ValueError(
            f"{fn}: {low_name} ({low!r}) must not exceed {high_name} ({high!r}){why}"
        )


ANNEAL_UP = " (a floor above the lr would anneal upward; torch accepts it silently)"

FLOAT32_MAX = 3.4028234663852886e38


def finite_at_end(fn: str, what: str, value: float) -> None:
    """Refuses a growing curve whose value at count 2**31-1 is past float32's range (it
    would turn inf there; the references accept it silently)."""
    if not value <= FLOAT32_MAX:
        raise ValueError(f"{fn}: {what} reaches {value:.3g} at count 2**31-1, past float32's "
                         f"largest value {FLOAT32_MAX:.3g}; use a smaller rate")


def batches(fn: str, value: Any) -> tuple[Any, int]:
    """A pytree of arrays whose leaves share one leading (batch-index) axis, as the LR range
    test and the grid search take their batches: ``(the pytree as jnp arrays, its length)``."""
    import jax.numpy as jnp

    try:  # numpy (or any array-like) leaves: jnp arrays can be indexed by a traced step
        value = jax.tree.map(jnp.asarray, value)
    except TypeError as err:
        raise TypeError(f"{fn}: batches must be a pytree of arrays: {err}") from None
    leaves = jax.tree.leaves(value)
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in leaves}
    if not leaves or None in sizes or len(sizes) != 1:
        raise ValueError(f"{fn}: batches must be a pytree of arrays with one common leading "
                         f"(batch-index) axis, got leading sizes {sorted(map(str, sizes))}")
    n = sizes.pop()
    if n == 0:
        raise ValueError(f"{fn}: batches hold no batch (leading axis of size 0)")
    return value, n
