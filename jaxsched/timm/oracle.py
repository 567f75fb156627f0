"""timm 1.0.31's scheduler formulas in 50-digit arithmetic, with exact cycle boundaries
(``B_j = T (m**j - 1) / (m - 1)`` as rationals), for ``jaxsched.tools.oracle``."""

from __future__ import annotations

import bisect
import math
from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp

__all__ = ["ORACLES", "torch_normal_noise", "torch_uniform_noise"]


def _cycle(t: int, p: dict[str, Any]) -> tuple[int, Any, Any]:
    """``(i, t_curr, t_i)`` exactly (Fractions) for timm's t_initial / cycle_mul."""
    big_t, m = p["t_initial"], Fraction(p["cycle_mul"])
    if m == 1:
        return t // big_t, Fraction(t % big_t), Fraction(big_t)
    start, length, i = Fraction(0), Fraction(big_t), 0
    while start + length <= t and i <= p["cycle_limit"]:
        start, length, i = start + length, length * m, i + 1
    return i, t - start, length


def torch_normal_noise(seed: int, pct: float, std: float) -> float:
    """timm's ``_calculate_noise``: ``torch.Generator().manual_seed(seed)``, then
    ``torch.randn(1).item() * std`` until below ``pct`` in magnitude, in Python from the
    MT19937 outputs (numpy's legacy seeding is torch's ``init_genrand``) and glibc's
    ``log1p``, ``sqrt``, ``cos``, ``sin``: what torch's CPU kernel computes."""
    import numpy as np

    outputs = iter(int(x) for x in np.random.RandomState(seed % 2**32)._bit_generator
                   .random_raw(4096))

    def uniform() -> float:
        hi, lo = next(outputs), next(outputs)
        return (((hi << 32) | lo) & ((1 << 53) - 1)) * 2.0**-53

    while True:
        u1, u2 = uniform(), uniform()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        for z in (r * math.cos(theta), r * math.sin(theta)):
            noise = float(np.float32(z)) * std
            if abs(noise) < pct:
                return noise


def torch_uniform_noise(seed: int, pct: float) -> float:
    """timm's ``_calculate_noise`` for any other ``noise_type``: ``2 * (torch.rand(1,
    generator=g).item() - 0.5) * pct``, torch's float32 uniform being the low 24 bits of
    MT19937's first output times ``2**-24``."""
    import numpy as np

    first = int(np.random.RandomState(seed % 2**32)._bit_generator.random_raw(1)[0])
    return 2 * ((first & 0xFFFFFF) * 2.0**-24 - 0.5) * pct


def _in_range(rng: Any, t: int) -> bool:
    if rng is None:
        return False
    if isinstance(rng, (list, tuple)):
        return rng[0] <= t < rng[1]
    return t >= rng


def _wrap(p: dict[str, Any], main: Any, target: Any = None) -> Curve:
    w, init, lr = p["warmup_t"], mp(p["warmup_lr_init"]), mp(p["lr"])
    prefix = p.get("warmup_prefix", True)

    def curve(k: int) -> Any:
        if k == 0 and p["step_zero"] == "construction":
            return (init if w else lr) * mp(p["lr_scale"])
        if k < w:  # the target at the working precision of the call (a callable: evaluated
            # here, not when the oracle is built, which may be at mpmath's default 15 digits)
            top = lr if target is None else target()
            value = init + (top - init) * mp(Fraction(k, w))
        else:
            value = main(k - w if prefix else k)
        if _in_range(p["noise_range_t"], k):
            if p.get("noise_type", "normal") != "normal":
                noise = torch_uniform_noise(p["noise_seed"] + k, p["noise_pct"])
            else:
                noise = torch_normal_noise(p["noise_seed"] + k, p["noise_pct"], p["noise_std"])
            value = value * (1 + mp(noise))
        return value * mp(p["lr_scale"])

    return curve


def _cyclic(kind: str) -> Any:
    def oracle(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
        lr, lr_min = mp(p["lr"]), mp(p["lr_min"])

        def main(t: int) -> Any:
            i, t_curr, t_i = _cycle(t, p)
            if i >= p["cycle_limit"]:
                return lr_min
            peak = lr * mp(p["cycle_decay"]) ** i
            x = mp(t_curr / t_i)
            if kind == "cosine":
                w = (1 + cos_pi(x ** mp(p["k_decay"]))) / 2
            elif kind == "poly":
                w = (1 - x ** mp(p["k_decay"])) ** mp(p["power"]) if p["power"] else mp(1)
            else:
                w = (1 - mpmath.tanh(mp(p["lb"]) * (1 - x) + mp(p["ub"]) * x)) / 2
            return peak * w + lr_min * (1 - w)  # no cancellation when peak << lr_min

        target = None
        if kind == "tanh" and p["warmup_t"] and not p["warmup_prefix"]:
            def target() -> Any:  # timm warms up to the formula there
                return main(p["warmup_t"])
        return _wrap(p, main, target), None

    return oracle


def step_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    d = Fraction(p["decay_t"])
    return _wrap(p, lambda t: mp(p["lr"]) * mp(p["decay_rate"]) ** math.floor(t / d)), None


def multistep_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    ms = [Fraction(m) for m in p["decay_t"]]
    return _wrap(p, lambda t: mp(p["lr"]) * mp(p["decay_rate"]) ** bisect.bisect_right(
        ms, t + 1)), None


def wsd_lr(p: dict[str, Any], _: Any) -> tuple[Curve, None] | tuple[None, None]:
    if callable(p["decay_fn"]):
        return None, None
    lr, lr_min = mp(p["lr"]), mp(p["lr_min"])
    total, d_t = p["t_initial"], p["decay_t"]

    def decay(f: Fraction) -> Any:
        x, fn = mp(f), p["decay_fn"]
        if fn == "linear":
            return 1 - x
        if fn == "1-sqrt":
            return 1 - mpmath.sqrt(x)
        if fn == "cosine":
            return (1 + cos_pi(x)) / 2
        if fn == "power":
            return 1 - x ** mp(p["decay_power"])
        r = mp(p["decay_ratio"])
        return (r ** x - r) / (1 - r)

    def main(t_s: int) -> Any:
        top = lr
        if p["stable_fn"] != "constant":
            power = mp(0.5) if p["stable_fn"] == "rsqrt" else mp(p["stable_power"])
            top = lr * (1 + t_s / mp(p["stable_timescale"])) ** -power
        top = max(top, lr_min)
        into = t_s - (total - d_t)
        if into <= 0:
            return top
        d = decay(min(Fraction(into, d_t), Fraction(1)))
        return top * d + lr_min * (1 - d)

    return _wrap(dict(p, warmup_prefix=True), main), None


ORACLES = {
    "jaxsched.timm.cosine_lr": _cyclic("cosine"),
    "jaxsched.timm.tanh_lr": _cyclic("tanh"),
    "jaxsched.timm.poly_lr": _cyclic("poly"),
    "jaxsched.timm.step_lr": step_lr,
    "jaxsched.timm.multistep_lr": multistep_lr,
    "jaxsched.timm.wsd_lr": wsd_lr,
}
