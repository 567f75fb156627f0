"""Megatron-core 0.16.1's ``get_lr`` / ``get_wd`` in 50-digit arithmetic on exact ratios,
for ``jaxsched.tools.oracle``."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp

__all__ = ["ORACLES"]


def _coeff(style: str, r: Fraction) -> Any:
    x = mp(r)
    if style == "linear":
        return 1 - x
    if style == "cosine":
        return (cos_pi(x) + 1) / 2
    if style == "exponential":
        return 2 * mpmath.mpf(0.5) ** x - 1
    return 1 - mpmath.sqrt(x)  # minus_sqrt


def lr_schedule(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    hi, lo, init = mp(p["max_lr"]), mp(p["min_lr"]), mp(p["init_lr"])
    warm, decay, style = Fraction(p["lr_warmup_steps"]), p["lr_decay_steps"], p[
        "lr_decay_style"]  # a fractional warmup is the float's exact value

    def curve(n: int) -> Any:
        if warm > 0 and n <= warm:
            return init + (hi - init) * mp(n / warm)
        if style == "constant":
            return hi
        if n > decay:
            return lo
        if style == "inverse-square-root":
            return max(lo, hi * mpmath.sqrt(mp(max(warm, 1) / max(n, 1))))
        if style == "WSD":
            start = decay - p["wsd_decay_steps"]
            c = mp(1) if n <= start else _coeff(p["lr_wsd_decay_style"],
                                                Fraction(n - start, p["wsd_decay_steps"]))
        else:
            c = _coeff(style, (n - warm) / (decay - warm))
        return hi * c + lo * (1 - c)

    return curve, None


def wd_schedule(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    start, end, span, style = mp(p["start_wd"]), mp(p["end_wd"]), p["wd_incr_steps"], p[
        "wd_incr_style"]

    def curve(n: int) -> Any:
        if style == "constant" or n > span:
            return end
        r = mp(Fraction(n, span))
        c = r if style == "linear" else (cos_pi(1 - r) + 1) / 2
        return end * c + start * (1 - c)

    return curve, None


ORACLES = {"jaxsched.megatron.lr_schedule": lr_schedule,
           "jaxsched.megatron.wd_schedule": wd_schedule}
