"""Random configurations at the scales people train at, for the exact-oracle checks.

Phases are drawn log-uniformly over 1..10**6 steps, each independently (so very asymmetric
phases come up), lrs log-uniformly over 1e-8..10, and the steps to check are the ones where
schedules go wrong: 0..3, every phase boundary +-3, the last steps of every phase, random
steps inside, and far counts (2**24+1, 2**31-2, 2**31-1 and log-uniform ones). Shared by the
property tests (``tests/test_exact.py``) and ``jaxsched parity``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import jaxsched
from jaxsched.core.schedule import Schedule

__all__ = ["DRAWS", "draw", "steps_for"]

MAX_COUNT = 2**31 - 1
FAR = (2**24 + 1, MAX_COUNT - 1, MAX_COUNT)
_LIMIT = [10**6]  # the largest phase drawn; ``draw(..., max_phase=)`` lowers it


def phase(rng: np.random.Generator, low: int = 1, high: int = 10**6) -> int:
    high = max(low, min(high, _LIMIT[0] * high // 10**6))
    return round(float(10 ** rng.uniform(np.log10(low), np.log10(high))))


def lr(rng: np.random.Generator) -> float:
    return float(10 ** rng.uniform(-8, 1))


def unit(rng: np.random.Generator) -> float:
    """A ratio in [0, 1]: often exactly 0, sometimes tiny, else uniform."""
    pick = rng.integers(4)
    return 0.0 if pick == 0 else float(10 ** rng.uniform(-8, -1)) if pick == 1 else float(
        rng.uniform(0, 1))


Draw = Callable[[np.random.Generator], tuple[Schedule, list[int]]]


def _ds_lr_range(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
    size = phase(rng)
    s = jaxsched.lr_range_test(lr(rng) / 100, size, float(10 ** rng.uniform(-3, 1)),
                               bool(rng.integers(2)))
    return s, [size]


def _ds_one_cycle(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
    s1, s2 = phase(rng), phase(rng, 0 + 1) if rng.integers(5) else 0
    lo = lr(rng) * unit(rng)
    hi = max(lr(rng), lo)
    m_lo = unit(rng)
    m_hi = float(rng.uniform(m_lo, 1))
    stairs = int(rng.integers(0, 6)) if rng.integers(3) == 0 else 0
    decay = phase(rng) if rng.integers(2) else 0
    s = jaxsched.one_cycle(lo, hi, decay_lr_rate=float(10 ** rng.uniform(-3, 1)),
                           cycle_first_step_size=s1, cycle_second_step_size=s2,
                           cycle_first_stair_count=stairs, decay_step_size=decay,
                           cycle_min_mom=m_lo, cycle_max_mom=m_hi,
                           decay_mom_rate=float(10 ** rng.uniform(-6, -2)) * rng.integers(2))
    return s, [s1, s1 + s2, s1 + s2 + decay]


def _ds_warmup(kind: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        n = phase(rng)
        total = n + phase(rng)
        wtype = "log" if rng.integers(2) else "linear"
        top = lr(rng)
        if kind == "warmup_lr":
            s = jaxsched.warmup_lr(top * unit(rng), top, n, wtype)
        elif kind == "warmup_decay_lr":
            s = jaxsched.warmup_decay_lr(total, top * unit(rng), top, n, wtype)
        else:
            s = jaxsched.warmup_cosine_lr(total, unit(rng), n, unit(rng), wtype, lr=top)
        return s, [n, n + 1, total, total + 1]
    return make


def _torch_simple(kind: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        base, t = lr(rng), phase(rng)
        gamma = float(1 - 10 ** rng.uniform(-7, -0.01))
        if kind == "step_lr":
            return jaxsched.step_lr(t, gamma, lr=base), [t, 2 * t, 10 * t]
        if kind == "multi_step_lr":
            ms = sorted(int(m) for m in rng.integers(0, 10 * t, size=int(rng.integers(1, 5))))
            return jaxsched.multi_step_lr(ms, gamma, lr=base), ms
        if kind == "constant_lr":
            return jaxsched.constant_lr(max(unit(rng), 1e-8), t, lr=base), [t]
        if kind == "linear_lr":
            return jaxsched.linear_lr(max(unit(rng), 1e-8), unit(rng), t, lr=base), [t]
        if kind == "exponential_lr":
            g = float(1 - 10 ** rng.uniform(-9, -0.01))
            return jaxsched.exponential_lr(g, lr=base), [t]
        if kind == "polynomial_lr":
            return jaxsched.polynomial_lr(t, float(rng.uniform(0, 4)), lr=base), [t]
        eta = base * unit(rng)  # an eta_min above lr (annealing upward) is refused
        if kind == "cosine_annealing_lr":
            return jaxsched.cosine_annealing_lr(t, eta, lr=base), [t, 2 * t, 3 * t]
        mult = int(rng.choice([1, 1, 2, 3]))
        s = jaxsched.cosine_annealing_warm_restarts(t, mult, eta, lr=base)
        ends = [t * (mult**i - 1) // max(1, mult - 1) if mult > 1 else i * t for i in range(4)]
        return s, ends
    return make


def _torch_cyclic(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
    up = phase(rng)
    down = phase(rng) if rng.integers(4) else 0
    lo = lr(rng) * unit(rng)
    mode = str(rng.choice(["triangular", "triangular2", "exp_range"]))
    m_lo = unit(rng)
    s = jaxsched.cyclic_lr(lo, max(lo, lr(rng)), up, down, mode=mode,
                           gamma=float(1 - 10 ** rng.uniform(-9, -2)), base_momentum=m_lo,
                           max_momentum=float(rng.uniform(m_lo, 1)))
    return s, [up, up + down, 2 * up + down, 2 * (up + down)]


def _torch_one_cycle(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
    while True:
        n = phase(rng, 2, 10**6)
        pick = rng.integers(4)  # uniform, tiny, or a last phase a fraction of a step wide
        pct = (float(rng.uniform(0.001, 0.999)) if pick < 2 else float(10 ** rng.uniform(-6, 0))
               if pick == 2 else float(1 - 10 ** rng.uniform(-7, -1)))
        three = bool(rng.integers(2))
        try:
            s = jaxsched.one_cycle_lr(lr(rng), total_steps=n, pct_start=min(pct, 1.0),
                                      anneal_strategy=str(rng.choice(["cos", "linear"])),
                                      base_momentum=unit(rng) * 0.85, max_momentum=0.95,
                                      div_factor=float(10 ** rng.uniform(0, 3)),
                                      final_div_factor=float(10 ** rng.uniform(0, 5)),
                                      three_phase=three)
        except ValueError:
            continue
        ends = [int(pct * n) - 1, int(2 * pct * n) - 2, n - 1, n, n + 1]
        return s, [e for e in ends if e >= 0]


def _hf(name: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        w = phase(rng) if rng.integers(4) else 0
        t = w + phase(rng, 2)
        kw: dict[str, Any] = {}
        if name in ("cosine", "cosine_with_min_lr", "cosine_warmup_with_min_lr"):
            kw["num_cycles"] = float(rng.choice([0.5, 0.5, 1.0, 0.25, 1.5, 0.3]))
        if name == "cosine_with_restarts":
            kw["num_cycles"] = int(rng.integers(1, 6))
        if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
            kw["min_lr_rate"] = unit(rng)
        if name == "polynomial":
            kw.update(lr_end=0.0 if rng.integers(2) else 1e-7, power=float(rng.uniform(0.1, 4)))
        if name == "warmup_stable_decay":
            kw.update(num_decay_steps=phase(rng), decay_type=str(rng.choice(
                ["linear", "cosine", "1-sqrt"])), warmup_type=str(rng.choice(
                ["linear", "cosine", "1-sqrt"])), min_lr_ratio=unit(rng))
            t = w + phase(rng) + kw["num_decay_steps"]
        base = lr(rng)
        if name == "polynomial":
            base = max(base, 1e-6)
        s = jaxsched.get_scheduler(name, base, num_warmup_steps=w, num_training_steps=t,
                                   scheduler_specific_kwargs=kw)
        return s, [w, t, 2 * t, w + kw.get("num_decay_steps", 0)]
    return make


def _sequential(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
    base, w = lr(rng), phase(rng)
    warm = jaxsched.linear_lr(max(unit(rng), 1e-8), 1.0, w, lr=base)
    t = phase(rng)
    cos = jaxsched.cosine_annealing_lr(t, base * unit(rng), lr=base)
    return jaxsched.sequential_lr([warm, cos], [w]), [w, w + t]


def _chained(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
    base, t = lr(rng), phase(rng)
    a = jaxsched.linear_lr(max(unit(rng), 1e-8), 1.0, t, lr=base)
    b = jaxsched.exponential_lr(float(1 - 10 ** rng.uniform(-9, -2)), lr=base)
    return jaxsched.chained_scheduler([a, b]), [t]


def _preset(name: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        p = jaxsched.presets
        if name == "warmup_stable_decay":
            w, stable, d = phase(rng) * int(rng.integers(2)), phase(rng), phase(rng)
            dt = str(rng.choice(["linear", "cosine", "1-sqrt", "exponential"]))
            r = max(unit(rng), 1e-6) if dt == "exponential" else unit(rng)
            s = p.warmup_stable_decay(lr(rng), w + stable + d, warmup_steps=w, decay_steps=d,
                                      decay_type=dt, warmup_type=str(rng.choice(
                                          ["linear", "cosine", "1-sqrt"])), min_lr_ratio=r)
            return s, [w, w + stable, w + stable + d]
        if name == "deepseek_llm":
            total = phase(rng, 10**4, 10**7)
            s = p.deepseek_llm(total, peak_lr=lr(rng), warmup_steps=min(2000, total // 2))
            return s, [2000, *s.params["milestone_steps"]]
        if name == "deepseek_v3_steps":
            peak = lr(rng)  # the paper's ratios: 2.2e-4 -> 2.2e-5 -> 7.3e-6
            s = p.deepseek_v3_steps(phase(rng, 10**4, 10**7), peak_lr=peak,
                                    decayed_lr=peak / 10, final_lr=peak * 7.3e-6 / 2.2e-4)
            return s, [2000, *s.params["boundaries"]]
        w = phase(rng)
        return p.inverse_sqrt(lr(rng), w), [w - 1, w]
    return make


def _timm(name: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        top = lr(rng)
        w = phase(rng) * int(rng.integers(2))
        warm = dict(warmup_t=w, warmup_lr_init=top * unit(rng))
        if name in ("cosine_lr", "tanh_lr", "poly_lr"):
            t0 = phase(rng)
            m = float(rng.choice([1.0, 1.0, 2.0, 1.5, rng.uniform(1.1, 4.0)]))
            prefix = bool(rng.integers(2))
            kw = dict(t_initial=t0, lr_min=top * unit(rng), cycle_mul=m,
                      cycle_decay=float(rng.choice([1.0, rng.uniform(0, 1)])),
                      cycle_limit=int(rng.integers(0, 6)), warmup_prefix=prefix, **warm)
            if name != "tanh_lr":
                kw["k_decay"] = float(rng.choice([1.0, rng.uniform(0.2, 3.0)]))
            if name == "poly_lr":
                kw["power"] = float(rng.uniform(0, 4))
            s = getattr(jaxsched.timm, name)(lr=top, **kw)
            starts = [0]
            for _ in range(max(1, kw["cycle_limit"])):
                starts.append(int(starts[-1] + t0 * m ** (len(starts) - 1)))
            shift = w if prefix else 0
            return s, [w] + [b + shift for b in starts[1:] if b + shift < MAX_COUNT]
        if name == "step_lr":
            d = float(phase(rng)) if rng.integers(2) else float(rng.uniform(0.5, 1e4))
            s = jaxsched.timm.step_lr(d, float(rng.uniform(0, 1)), lr=top,
                                      warmup_prefix=bool(rng.integers(2)), **warm)
            return s, [w, w + int(d), w + int(3 * d)]
        if name == "multistep_lr":
            ms = sorted(phase(rng) for _ in range(int(rng.integers(0, 4))))
            s = jaxsched.timm.multistep_lr(ms, float(rng.uniform(0, 1)), lr=top,
                                           warmup_prefix=bool(rng.integers(2)), **warm)
            return s, [w, *ms, *(m + w for m in ms)]
        total = phase(rng)
        d = int(rng.integers(1, total + 1))
        stable = str(rng.choice(["constant", "rsqrt", "power"]))
        s = jaxsched.timm.wsd_lr(
            total, d, lr_min=top * unit(rng), stable_fn=stable,
            stable_timescale=float(phase(rng)) if stable != "constant" else None,
            stable_power=float(rng.uniform(0.1, 2)),
            decay_fn=str(rng.choice(["linear", "1-sqrt", "cosine", "power", "exp"])),
            decay_power=float(rng.uniform(0.2, 4)), decay_ratio=float(rng.uniform(0.01, 0.9)),
            lr=top, **warm)
        return s, [w, w + total - d, w + total]
    return make


def _keras(name: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        k = jaxsched.keras
        top = lr(rng)
        if name in ("ExponentialDecay", "InverseTimeDecay"):
            d = phase(rng) if rng.integers(2) else float(rng.uniform(0.5, 1e4))
            rate = float(rng.uniform(0, 1)) if name == "ExponentialDecay" else float(
                10 ** rng.uniform(-3, 1))
            s = getattr(k, name)(top, d, rate, staircase=bool(rng.integers(2)))
            return s, [int(d), int(3 * d)]
        if name == "PiecewiseConstantDecay":
            bounds = sorted(phase(rng) for _ in range(int(rng.integers(1, 5))))
            return k.PiecewiseConstantDecay(bounds, [lr(rng) for _ in range(len(bounds) + 1)]
                                            ), bounds
        if name == "PolynomialDecay":
            d = phase(rng)
            s = k.PolynomialDecay(top, d, top * float(rng.uniform(0, 2)) * unit(rng),
                                  float(rng.uniform(0, 4)), bool(rng.integers(2)))
            return s, [d, 2 * d]
        if name == "CosineDecay":
            d, w = phase(rng), phase(rng) * int(rng.integers(2))
            if rng.integers(2):
                return k.CosineDecay(top * unit(rng), d, unit(rng), warmup_target=top,
                                     warmup_steps=w), [w, w + d]
            return k.CosineDecay(top, d, unit(rng)), [d]
        d = phase(rng)
        t_mul = float(rng.choice([1.0, 2.0, rng.uniform(1.1, 3.0)]))
        s = k.CosineDecayRestarts(top, d, t_mul, float(rng.uniform(0, 1)), unit(rng))
        return s, [d, int(d * (1 + t_mul)), int(d * (1 + t_mul + t_mul**2))]
    return make


def _megatron(name: str) -> Draw:
    def make(rng: np.random.Generator) -> tuple[Schedule, list[int]]:
        m = jaxsched.megatron
        if name == "wd_schedule":
            style = str(rng.choice(["linear", "cosine", "constant"]))
            start = float(rng.uniform(0, 0.1))
            end = start if style == "constant" else start + float(rng.uniform(0, 0.1))
            n = phase(rng)
            return m.wd_schedule(start, end, n, style), [n]
        decay = phase(rng, 2)
        warm = int(rng.integers(0, decay)) if rng.integers(2) else 0
        top = lr(rng)
        style = str(rng.choice(["constant", "linear", "cosine", "inverse-square-root", "WSD"]))
        wsd = int(rng.integers(1, decay - warm + 1))
        s = m.lr_schedule(top, top * unit(rng), warm, decay, style, top * unit(rng),
                          wsd if style == "WSD" else None,
                          str(rng.choice(["linear", "cosine", "exponential", "minus_sqrt"]))
                          if style == "WSD" else None)
        return s, [warm, decay - wsd, decay]
    return make


DRAWS: dict[str, Draw] = {
    "lr_range_test": _ds_lr_range,
    "one_cycle": _ds_one_cycle,
    "warmup_lr": _ds_warmup("warmup_lr"),
    "warmup_decay_lr": _ds_warmup("warmup_decay_lr"),
    "warmup_cosine_lr": _ds_warmup("warmup_cosine_lr"),
    **{k: _torch_simple(k) for k in (
        "step_lr", "multi_step_lr", "constant_lr", "linear_lr", "exponential_lr",
        "polynomial_lr", "cosine_annealing_lr", "cosine_annealing_warm_restarts")},
    "cyclic_lr": _torch_cyclic,
    "one_cycle_lr": _torch_one_cycle,
    "sequential_lr": _sequential,
    "chained_scheduler": _chained,
    **{f"hf.{k}": _hf(k) for k in (
        "linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
        "constant_with_warmup", "inverse_sqrt", "cosine_with_min_lr",
        "cosine_warmup_with_min_lr", "warmup_stable_decay")},
    **{f"presets.{k}": _preset(k) for k in (
        "warmup_stable_decay", "deepseek_llm", "deepseek_v3_steps", "inverse_sqrt")},
    **{f"timm.{k}": _timm(k) for k in (
        "cosine_lr", "tanh_lr", "poly_lr", "step_lr", "multistep_lr", "wsd_lr")},
    **{f"keras.{k}": _keras(k) for k in (
        "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay",
        "CosineDecay", "CosineDecayRestarts")},
    **{f"megatron.{k}": _megatron(k) for k in ("lr_schedule", "wd_schedule")},
}


def steps_for(boundaries: list[int], rng: np.random.Generator, n_random: int = 12) -> list[int]:
    """0..3, each boundary and its last/next 3 steps, random steps before the last boundary
    and beyond it, and far counts; sorted, unique, within [0, 2**31-1]."""
    out = set(range(4)) | set(FAR)
    top = max([b for b in boundaries if b > 0], default=1)
    for b in boundaries:
        out |= set(range(b - 3, b + 4))
    out |= {int(x) for x in rng.integers(0, top + 1, size=n_random)}
    out |= {int(10 ** x) for x in rng.uniform(np.log10(top + 1), np.log10(MAX_COUNT), size=4)}
    return sorted(k for k in out if 0 <= k <= MAX_COUNT)


def draw(name: str, seed: int, max_phase: int = 10**6) -> tuple[Schedule, list[int]]:
    """One random configuration of schedule ``name`` (phases up to ``max_phase`` steps) and
    the steps to check it at."""
    rng = np.random.default_rng(seed)
    _LIMIT[0] = max_phase
    try:
        schedule, boundaries = DRAWS[name](rng)
    finally:
        _LIMIT[0] = 10**6
    return schedule, steps_for(boundaries, rng)
