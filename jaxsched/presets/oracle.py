"""The LLM presets (``jaxsched.presets``), exactly, from their papers' definitions."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp
from jaxsched.transformers.oracle import wsd

__all__ = ["ORACLES"]


def warmup_stable_decay(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    w, d, total = p["warmup_steps"], p["decay_steps"], p["total_steps"]
    args = dict(warmup=w, stable=total - w - d, decay=d, warmup_type=p["warmup_type"],
                decay_type=p["decay_type"], min_lr_ratio=p["min_lr_ratio"], num_cycles=0.5)
    peak = mp(p["peak_lr"])
    return (lambda k: peak * wsd(k, **args)), None


def deepseek_llm(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    peak, w = mp(p["peak_lr"]), p["warmup_steps"]
    (m1, m2), (f1, f2) = p["milestone_steps"], p["factors"]

    def lr(k: int) -> mpmath.mpf:
        if k < w:
            return peak * mp(Fraction(k, max(1, w)))
        return peak if k < m1 else peak * mp(f1) if k < m2 else peak * mp(f2)

    return lr, None


def deepseek_v3_steps(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    peak, decayed, final = mp(p["peak_lr"]), mp(p["decayed_lr"]), mp(p["final_lr"])
    w, (b1, b2, b3) = p["warmup_steps"], p["boundaries"]

    def lr(k: int) -> mpmath.mpf:
        if k < w:
            return peak * mp(Fraction(k, max(1, w)))
        if k < b1:
            return peak
        if k < b2:
            return decayed + (peak - decayed) * (1 + cos_pi(Fraction(k - b1, b2 - b1))) / 2
        return decayed if k < b3 else final

    return lr, None


def deepseek_v3(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    """The paper's definition on the exact token count: ``T(k)`` from the ramp table in
    Python integers, the cosine's phase an exact fraction of tokens."""
    peak, decayed, final = mp(p["peak_lr"]), mp(p["decayed_lr"]), mp(p["final_lr"])
    w, (b1, b2, b3, _end) = p["warmup_steps"], p["token_bounds"]
    iters, consumed, batches = p["table"]
    seq = p["seq_length"]

    def tokens(k: int) -> int:
        j = max(i for i, it in enumerate(iters) if it <= k)
        return (consumed[j] + (k - iters[j]) * batches[j]) * seq

    def lr(k: int) -> mpmath.mpf:
        if k < w:
            return peak * mp(Fraction(k, max(1, w)))
        t = tokens(k)
        if t < b1:
            return peak
        if t < b2:
            return decayed + (peak - decayed) * (1 + cos_pi(Fraction(t - b1, b2 - b1))) / 2
        return decayed if t < b3 else final

    return lr, None


def inverse_sqrt(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    peak, w = mp(p["peak_lr"]), p["warmup_steps"]

    def lr(k: int) -> mpmath.mpf:
        s = mp(k + 1)
        return peak * min(s / w, mpmath.sqrt(w / s))

    return lr, None


ORACLES = {
    "jaxsched.presets.warmup_stable_decay": warmup_stable_decay,
    "jaxsched.presets.deepseek_llm": deepseek_llm,
    "jaxsched.presets.deepseek_v3_steps": deepseek_v3_steps,
    "jaxsched.presets.deepseek_v3": deepseek_v3,
    "jaxsched.presets.inverse_sqrt": inverse_sqrt,
}
