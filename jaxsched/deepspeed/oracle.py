"""DeepSpeed 0.19.8's five schedules (``deepspeed.runtime.lr_schedules``), exactly.

At training step ``k`` DeepSpeed's formulas see ``last_batch_iteration = k - 1``; step 0 is
the value its constructor writes.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp

__all__ = ["ORACLES"]


def lr_range_test(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    size, rate, min_lr = p["lr_range_test_step_size"], mp(p["lr_range_test_step_rate"]), mp(
        p["lr_range_test_min_lr"])

    def lr(k: int) -> mpmath.mpf:
        interval = Fraction(k, size)  # (last_batch_iteration + 1) / step_size
        if p["lr_range_test_staircase"]:
            interval = Fraction(interval.__floor__())
        return min_lr * (1 + rate * mp(interval))

    return lr, None


def one_cycle(p: dict[str, Any], _: Any) -> tuple[Curve, Curve | None]:
    s1, s2 = p["cycle_first_step_size"], p["cycle_second_step_size"]
    c1, c2 = p["cycle_first_stair_count"], p["cycle_second_stair_count"]
    total = s1 + s2
    ratio = Fraction(s1, total)
    decay_size = p["decay_step_size"]
    min_lr, max_lr = mp(p["cycle_min_lr"]), mp(p["cycle_max_lr"])
    min_mom, max_mom = mp(p["cycle_min_mom"]), mp(p["cycle_max_mom"])
    lr_rate, mom_rate = mp(p["decay_lr_rate"]), mp(p["decay_mom_rate"])
    skip_lr = decay_size == 0 or p["decay_lr_rate"] == 0.0
    skip_mom = decay_size == 0 or p["decay_mom_rate"] == 0.0

    def scale(k: int) -> mpmath.mpf:  # _get_scale_factor with batch_iteration = k
        x = Fraction(k, total) - Fraction(k, total).__floor__()  # (1 + b/T) - cycle
        if x <= ratio:
            s, stairs = x / ratio, c1
        else:
            s, stairs = (x - 1) / (ratio - 1), c2
        if stairs > 0:
            j = k % total
            pos = Fraction(j * stairs, s1) if j <= s1 else Fraction((total - j) * stairs, s2)
            s = Fraction(pos.__floor__(), stairs)
        return mp(s)

    def interval(k: int) -> mpmath.mpf:  # decay_batch_iteration / decay_step_size
        return mp(Fraction(k - total, decay_size))

    def lr(k: int) -> mpmath.mpf:
        if k <= total:  # last_batch_iteration < total_size
            return min_lr + (max_lr - min_lr) * scale(k)
        return min_lr if skip_lr else min_lr / (1 + lr_rate * interval(k))

    def mom(k: int) -> mpmath.mpf:
        if k == 0:  # the constructor writes the *min* momentum
            return min_mom
        if k <= total:
            return max_mom - (max_mom - min_mom) * scale(k)
        return max_mom if skip_mom else max_mom * (1 + mom_rate * interval(k))

    return lr, (mom if p["cycle_momentum"] else None)


def _warmup_gamma(i: int, n: int, warmup_type: str) -> mpmath.mpf:
    """DeepSpeed's warmup gamma at ``last_batch_iteration = i < n``."""
    if warmup_type == "log":
        return mpmath.log(i + 1) / mpmath.log(n)
    return mp(Fraction(i, n))


def warmup_lr(p: dict[str, Any], _: Any, decay_total: int | None = None) -> tuple[Curve, None]:
    n = max(2, p["warmup_num_steps"])
    min_lr, max_lr = mp(p["warmup_min_lr"]), mp(p["warmup_max_lr"])

    def lr(k: int) -> mpmath.mpf:
        i = k - 1
        if i < 0:
            return min_lr
        if i < n:
            gamma = _warmup_gamma(i, n, p["warmup_type"])
        elif decay_total is None:
            gamma = mpmath.mpf(1)
        else:
            gamma = max(mpmath.mpf(0), mp(Fraction(decay_total - i, max(1, decay_total - n))))
        return min_lr + (max_lr - min_lr) * gamma

    return lr, None


def warmup_decay_lr(p: dict[str, Any], lookup: Any) -> tuple[Curve, None]:
    return warmup_lr(p, lookup, decay_total=p["total_num_steps"])


def warmup_cosine_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    n = max(2, p["warmup_num_steps"])
    total = p["total_num_steps"]
    wmin, cmin, base = mp(p["warmup_min_ratio"]), mp(p["cos_min_ratio"]), mp(p["lr"])

    def lr(k: int) -> mpmath.mpf:
        i = k - 1
        if i < 0:
            return mpmath.mpf(0)
        if i < n:
            ratio = wmin + _warmup_gamma(i, n, p["warmup_type"]) * (1 - wmin)
        else:
            progress = min(Fraction(1), Fraction(i - n + 1, max(1, total - n)))
            ratio = max(mpmath.mpf(0), cmin + (1 - cmin) * (1 + cos_pi(progress)) / 2)
        return base * ratio

    return lr, None


ORACLES = {
    "jaxsched.lr_range_test": lr_range_test,
    "jaxsched.one_cycle": one_cycle,
    "jaxsched.warmup_lr": warmup_lr,
    "jaxsched.warmup_decay_lr": warmup_decay_lr,
    "jaxsched.warmup_cosine_lr": warmup_cosine_lr,
}
