"""Eager argument checks. Every message names the function, the argument and the value."""

from __future__ import annotations

import math
import numbers
from typing import Any

MAX_COUNT = 2**31 - 1  # optax's int32 count saturates here


def real(fn: str, name: str, value: Any) -> float:
    """A finite real number (not a bool)."""
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


def unit(fn: str, name: str, value: Any) -> float:
    """A real number in [0, 1] (momentum, beta1, a ratio)."""
    value = real(fn, name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{fn}: {name} must be in [0, 1], got {value!r}")
    return value


def integer(fn: str, name: str, value: Any, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    """An integer in [minimum, maximum]; an integral float (as JSON configs give) is accepted."""
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


def boolean(fn: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be a bool, got {value!r}")
    return value


def choice(fn: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{fn}: {name} must be one of {options}, got {value!r}")
    return value


def ordered(fn: str, low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise ValueError(
            f"{fn}: {low_name} ({low!r}) must not exceed {high_name} ({high!r})"
        )
