"""torch 2.13.0's ``torch.optim.lr_scheduler`` schedules, exactly.

torch computes most of these recursively (each ``step()`` multiplies the lr in the group by
a ratio); in exact arithmetic each recursion telescopes to its closed form, which is what is
evaluated here. The value at step ``k`` is the lr in force after ``k`` calls of ``step()``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp

__all__ = ["ORACLES"]


def step_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, g = mp(p["lr"]), mp(p["gamma"])
    return (lambda k: base * g ** (k // p["step_size"])), None


def multi_step_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, g, ms = mp(p["lr"]), mp(p["gamma"]), p["milestones"]
    return (lambda k: base * g ** sum(1 for m in ms if m <= k)), None


def constant_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, f = mp(p["lr"]), mp(p["factor"])
    return (lambda k: base * f if k < p["total_iters"] else base), None


def linear_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, s, e, total = mp(p["lr"]), mp(p["start_factor"]), mp(p["end_factor"]), p["total_iters"]
    # as a weighted sum of the two factors, the fraction exact: s + (e - s) f cancels at 50
    # digits when e is far below s (e = 1e-91, s = 1 gave 0 at k = total)

    def lr(k: int) -> mpmath.mpf:
        f = Fraction(min(k, total), total)
        return base * (s * mp(1 - f) + e * mp(f))

    return lr, None


def exponential_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, g = mp(p["lr"]), mp(p["gamma"])
    return (lambda k: base * g**k), None


def polynomial_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, power, total = mp(p["lr"]), mp(p["power"]), p["total_iters"]

    def lr(k: int) -> mpmath.mpf:
        rest = mp(Fraction(total - min(k, total), total))
        return base * (rest**power if rest != 0 or power != 0 else mpmath.mpf(1))

    return lr, None


def cosine_annealing_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, eta, t = mp(p["lr"]), mp(p["eta_min"]), p["T_max"]
    return (lambda k: eta + (base - eta) * (1 + cos_pi(Fraction(k, t))) / 2), None


def cosine_annealing_warm_restarts(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    base, eta, t0, mult = mp(p["lr"]), mp(p["eta_min"]), p["T_0"], p["T_mult"]

    def lr(k: int) -> mpmath.mpf:
        t_cur, t_i = (k % t0, t0) if mult == 1 else (k, t0)  # torch's sequential stepping:
        while t_cur >= t_i:  # T_cur resets at T_i, T_i *= T_mult
            t_cur, t_i = t_cur - t_i, t_i * mult
        return eta + (base - eta) * (1 + cos_pi(Fraction(t_cur, t_i))) / 2

    return lr, None


def cyclic_lr(p: dict[str, Any], _: Any) -> tuple[Curve | None, Curve | None]:
    if p["scale_fn"] is not None:
        return None, None  # a user's function: compared with torch directly
    up, down = p["step_size_up"], p["step_size_down"]
    total = up + down
    ratio = Fraction(up, total)
    mode, g = p["mode"], mp(p["gamma"])

    def scale_and_factor(k: int) -> tuple[mpmath.mpf, mpmath.mpf]:
        cycle = 1 + k // total
        x = 1 + Fraction(k, total) - cycle
        s = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        if mode == "triangular":
            f = mpmath.mpf(1)
        elif mode == "triangular2":
            f = 1 / mpmath.mpf(2) ** (cycle - 1)
        else:
            f = g**k
        return mp(s), f

    lo, hi = mp(p["base_lr"]), mp(p["max_lr"])
    m_lo, m_hi = mp(p["base_momentum"]), mp(p["max_momentum"])

    def lr(k: int) -> mpmath.mpf:
        s, f = scale_and_factor(k)
        return lo + (hi - lo) * s * f

    def mom(k: int) -> mpmath.mpf:
        s, f = scale_and_factor(k)
        return m_hi - (m_hi - m_lo) * s * f

    return lr, (mom if p["cycle_momentum"] else None)


def one_cycle_lr(p: dict[str, Any], _: Any) -> tuple[Curve, Curve | None]:
    n, pct = p["total_steps"], p["pct_start"]
    initial = p["max_lr"] / p["div_factor"]  # torch computes these two in float64
    floor = initial / p["final_div_factor"]
    m_lo, m_hi = p["base_momentum"], p["max_momentum"]
    if p["three_phase"]:
        phases = [(float(pct * n) - 1, initial, p["max_lr"], m_hi, m_lo),
                  (float(2 * pct * n) - 2, p["max_lr"], initial, m_lo, m_hi),
                  (float(n - 1), initial, floor, m_hi, m_hi)]
    else:
        phases = [(float(pct * n) - 1, initial, p["max_lr"], m_hi, m_lo),
                  (float(n - 1), p["max_lr"], floor, m_lo, m_hi)]
    cos = p["anneal_strategy"] == "cos"

    def anneal(start: float, end: float, frac: Fraction) -> mpmath.mpf:
        a, b = mp(start), mp(end)
        if cos:
            return b + (a - b) / 2 * (cos_pi(frac) + 1)
        return (b - a) * mp(frac) + a

    def value(k: int, lr_values: bool) -> mpmath.mpf:
        if k > n:  # torch raises; the pure schedule holds the final value
            return mp(floor) if lr_values else mp(m_hi)
        start = Fraction(0)
        for i, (end, *vals) in enumerate(phases):
            if k <= end or i == len(phases) - 1:
                frac = (k - start) / (Fraction(end) - start)
                a, b = (vals[0], vals[1]) if lr_values else (vals[2], vals[3])
                return anneal(a, b, frac)
            start = Fraction(end)
        raise AssertionError("unreachable")

    return (lambda k: value(k, True)), ((lambda k: value(k, False))
                                        if p["cycle_momentum"] else None)


ORACLES = {
    "jaxsched.step_lr": step_lr,
    "jaxsched.multi_step_lr": multi_step_lr,
    "jaxsched.constant_lr": constant_lr,
    "jaxsched.linear_lr": linear_lr,
    "jaxsched.exponential_lr": exponential_lr,
    "jaxsched.polynomial_lr": polynomial_lr,
    "jaxsched.cosine_annealing_lr": cosine_annealing_lr,
    "jaxsched.cosine_annealing_warm_restarts": cosine_annealing_warm_restarts,
    "jaxsched.cyclic_lr": cyclic_lr,
    "jaxsched.one_cycle_lr": one_cycle_lr,
}


def reduce_lr_on_plateau(lr: float, metrics: list[float], *, mode: str = "min",
                         factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                         threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                         eps: float = 1e-8) -> list[Any]:
    """torch's ReduceLROnPlateau, exactly: the lr in force before each of ``len(metrics) + 1``
    updates when ``step(metrics[i])`` follows update ``i``. The improvement tests and the cut
    ``max(lr * factor, min_lr)`` (applied when it changes the lr by more than ``eps``) are
    evaluated in exact arithmetic, NaN never improving."""
    t, f, floor, e = mp(threshold), mp(factor), mp(min_lr), mp(eps)
    best = mpmath.inf if mode == "min" else -mpmath.inf
    bad = cool = 0
    current = mp(lr)
    out = [current]
    for metric in metrics:
        m = mp(metric)
        if mpmath.isnan(m):
            better = False
        elif mode == "min":
            better = m < (best * (1 - t) if threshold_mode == "rel" else best - t)
        else:
            better = m > (best * (1 + t) if threshold_mode == "rel" else best + t)
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = max(current * f, floor)
            if current - new > e:
                current = new
            cool, bad = cooldown, 0
        out.append(current)
    return out
