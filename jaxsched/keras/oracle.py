"""Keras 3.15.1's schedule formulas in 50-digit arithmetic on the exact step (Keras itself
casts the step to float32), for ``jaxsched.tools.oracle``."""

from __future__ import annotations

import bisect
import math
from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp

__all__ = ["ORACLES"]


def _half_cos(x: Any) -> Any:
    return (1 + cos_pi(x)) / 2


def exponential(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    lr, rate, d = mp(p["initial_learning_rate"]), mp(p["decay_rate"]), Fraction(
        p["decay_steps"])

    def curve(k: int) -> Any:
        e = Fraction(k) / d
        if p["staircase"] or e.denominator == 1:  # an integral exponent: any sign of rate
            return lr * rate ** math.floor(e)
        return lr * rate ** mp(e)

    return curve, None


def inverse_time(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    lr, rate, d = mp(p["initial_learning_rate"]), mp(p["decay_rate"]), Fraction(
        p["decay_steps"])

    def curve(k: int) -> Any:
        e = Fraction(k) / d
        return lr / (1 + rate * (math.floor(e) if p["staircase"] else mp(e)))

    return curve, None


def piecewise(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    cut = [math.trunc(b) for b in p["boundaries"]]
    values = [mp(v) for v in p["values"]]
    if cut == sorted(cut):
        return (lambda k: values[bisect.bisect_left(cut, k)]), None

    def curve(k: int) -> Any:  # Keras's sum of the pieces whose condition holds
        total = values[0] * (k <= cut[0]) + values[-1] * (k > cut[-1])
        for low, high, v in zip(cut[:-1], cut[1:], values[1:-1], strict=True):
            total += v * (low < k <= high)
        return total

    return curve, None


def polynomial(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    lr, end = mp(p["initial_learning_rate"]), mp(p["end_learning_rate"])
    d = Fraction(p["decay_steps"])
    power = mp(p["power"])

    def curve(k: int) -> Any:
        if p["cycle"]:
            span = d * (1 if k == 0 else -(-k // d))
            rest = Fraction(span - k, span)
        else:
            rest = Fraction(d - min(k, d), d)
        w = mp(1) if p["power"] == 0 else mp(rest) ** power
        return lr * w + end * (1 - w)

    return curve, None


def cosine(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    lr, d, alpha = mp(p["initial_learning_rate"]), Fraction(p["decay_steps"]), mp(p["alpha"])
    target, w = p["warmup_target"], Fraction(p["warmup_steps"])

    def decay(top: Any, j: Fraction) -> Any:
        return top * ((1 - alpha) * _half_cos(mp(min(j, d) / d)) + alpha)

    def curve(k: int) -> Any:
        if target is None:
            return decay(lr, Fraction(k))
        kk = min(Fraction(k), d + w)  # Keras: min(step, decay_steps + warmup_steps)
        if kk < w:
            return lr + (mp(target) - lr) * mp(kk / w)
        return decay(mp(target), kk - w)

    return curve, None


def _near_one(k: int, d: Fraction, t_mul: Fraction) -> tuple[int, Any, Any] | None:
    """``(i, k - B_i, d t**i)`` from the closed form ``B_j = d (t**j - 1) / (t - 1)`` at 60
    digits, the index from ``log(1 + k (t - 1) / d) / log(t)`` corrected against the starts;
    ``None`` below 200 cycles (the exact rational loop serves there)."""
    with mpmath.workdps(60):
        t, dd = mp(t_mul), mp(d)
        eps = t - 1
        i = int(mpmath.floor(mpmath.log(1 + k * eps / dd) / mpmath.log(t)))
        if i < 200:
            return None

        def start(j: int) -> Any:
            return dd * (t**j - 1) / eps

        while start(i) > k:
            i -= 1
        while start(i + 1) <= k:
            i += 1
        return i, k - start(i), dd * t**i


def restarts(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    lr, alpha, m_mul = mp(p["initial_learning_rate"]), mp(p["alpha"]), mp(p["m_mul"])
    d, t_mul = Fraction(p["first_decay_steps"]), Fraction(p["t_mul"])

    def curve(k: int) -> Any:
        if t_mul == 1:
            i = math.floor(k / d)
            done, length = k - i * d, d
        elif (near := _near_one(k, d, t_mul)) is not None:
            i, done, length = near
        else:
            start, length, i, mult = Fraction(0), Fraction(d), 0, t_mul
            while start + length <= k:
                start, length, i = start + length, length * mult, i + 1
                if i == 64:  # past here no start is a whole step: 50 digits place them
                    start, length, mult = mp(start), mp(length), mp(t_mul)
            done = k - start
        x = done / length
        return lr * ((1 - alpha) * m_mul ** i * _half_cos(mp(x) if isinstance(
            x, Fraction) else x) + alpha)

    return curve, None


ORACLES = {
    "jaxsched.keras.ExponentialDecay": exponential,
    "jaxsched.keras.InverseTimeDecay": inverse_time,
    "jaxsched.keras.PiecewiseConstantDecay": piecewise,
    "jaxsched.keras.PolynomialDecay": polynomial,
    "jaxsched.keras.CosineDecay": cosine,
    "jaxsched.keras.CosineDecayRestarts": restarts,
}
