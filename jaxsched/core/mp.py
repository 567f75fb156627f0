"""Shared pieces of the oracles: precision, exact conversions, the curve type."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath

DPS = 50  # significant digits; every oracle runs inside mpmath.workdps(DPS)

Curve = Callable[[int], Any]  # step k -> mpmath.mpf


def mp(x: float | int | Fraction) -> mpmath.mpf:
    """The exact value of a float, int or Fraction (a float is its binary value)."""
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    return mpmath.mpf(x)


def q(num: int, den: int) -> Fraction:
    """An exact rational."""
    return Fraction(num, den)


def floor_div(num: int | Fraction, den: int | Fraction) -> int:
    """``floor(num / den)`` exactly."""
    return int(Fraction(num) // Fraction(den))


def cos_pi(x: Fraction | mpmath.mpf) -> mpmath.mpf:
    """``cos(pi * x)`` for an exact x."""
    return mpmath.cospi(mp(x) if isinstance(x, Fraction) else x)
