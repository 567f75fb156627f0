"""transformers 5.23.0's ``get_scheduler`` lambdas, exactly.

Each type is a ``LambdaLR`` factor of the step (``current_step`` = the count of ``step()``
calls); the lr in force at step ``k`` is ``lr * factor(k)``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath

from jaxsched.core.mp import Curve, cos_pi, mp

__all__ = ["ORACLES", "factor_oracle", "wsd"]

ZERO = Fraction(0)


def _warm(k: int, w: int) -> mpmath.mpf:
    return mp(Fraction(k, max(1, w)))


def _cos_cycles(progress: Fraction, cycles: float) -> mpmath.mpf:
    """``0.5 * (1 + cos(pi * cycles * 2 * progress))``, exactly."""
    return (1 + cos_pi(mp(cycles) * 2 * mp(progress))) / 2


def wsd(k: int, *, warmup: int, stable: int, decay: int, warmup_type: str, decay_type: str,
        min_lr_ratio: float, num_cycles: float) -> mpmath.mpf:
    """transformers' ``_get_wsd_scheduler_lambda`` (plus the presets' exponential decay)."""
    r = mp(min_lr_ratio)
    if k < warmup:
        p = Fraction(k, max(1, warmup))
        if warmup_type == "linear":
            f = mp(p)
        elif warmup_type == "cosine":
            f = (1 - cos_pi(p)) / 2
        else:
            f = 1 - mpmath.sqrt(mp(1 - p))
        return max(mpmath.mpf(0), f * (1 - r) + r)
    if k < warmup + stable:
        return mpmath.mpf(1)
    if k < warmup + stable + decay:
        p = Fraction(k - warmup - stable, max(1, decay))
        if decay_type == "linear":
            f = mp(1 - p)
        elif decay_type == "cosine":
            f = _cos_cycles(p, num_cycles)
        elif decay_type == "1-sqrt":
            f = 1 - mpmath.sqrt(mp(p))
        else:  # exponential (presets only): r ** p
            return r ** mp(p)
        return max(mpmath.mpf(0), f * (1 - r) + r)
    return r


def factor_oracle(name: str, w: int | None, t: int | None, kw: dict[str, Any],
                  lr_init: float) -> Curve:
    """The exact factor of one ``SchedulerType``; ``kw`` its scheduler_specific_kwargs."""
    if name == "constant":
        return lambda k: mpmath.mpf(1)
    if name == "constant_with_warmup":
        return lambda k: _warm(k, w) if k < w else mpmath.mpf(1)
    if name == "inverse_sqrt":
        timescale = kw.get("timescale")
        scale = Fraction(timescale if timescale is not None else (w or 10_000))
        shift = scale - w  # any real timescale, exactly
        return lambda k: _warm(k, w) if k < w else 1 / mpmath.sqrt(
            mp((k + shift) / scale))
    if name == "warmup_stable_decay":
        decay = kw["num_decay_steps"]
        stable = kw.get("num_stable_steps")
        if stable is None:
            stable = t - w - decay
        args = dict(warmup=w, stable=stable, decay=decay,
                    warmup_type=kw.get("warmup_type", "linear"),
                    decay_type=kw.get("decay_type", "cosine"),
                    min_lr_ratio=kw.get("min_lr_ratio", 0.0), num_cycles=kw.get("num_cycles", 0.5))
        return lambda k: wsd(k, **args)
    d = max(1, t - w)
    if name == "linear":
        return lambda k: _warm(k, w) if k < w else max(mpmath.mpf(0), mp(Fraction(t - k, d)))
    if name in ("cosine", "cosine_with_min_lr"):
        cycles = kw.get("num_cycles", 0.5)
        rate = mpmath.mpf(0)
        if name == "cosine_with_min_lr":
            rate = mp(kw["min_lr_rate"] if kw.get("min_lr_rate") is not None
                      else kw["min_lr"] / lr_init)  # transformers divides in float64

        def cosine(k: int) -> mpmath.mpf:
            if k < w:
                return _warm(k, w)
            f = _cos_cycles(Fraction(k - w, d), cycles)
            return max(mpmath.mpf(0), f * (1 - rate) + rate)

        return cosine
    if name == "cosine_with_restarts":
        cycles = kw.get("num_cycles", 1)

        def restarts(k: int) -> mpmath.mpf:
            if k < w:
                return _warm(k, w)
            progress = Fraction(k - w, d)
            if progress >= 1:
                return mpmath.mpf(0)
            frac = (Fraction(cycles) * progress) % 1
            return max(mpmath.mpf(0), (1 + cos_pi(frac)) / 2)

        return restarts
    if name == "polynomial":
        end, power, init = kw.get("lr_end", 1e-7), kw.get("power", 1.0), lr_init
        span = mp(init) - mp(end)

        def polynomial(k: int) -> mpmath.mpf:
            if k < w:
                return _warm(k, w)
            if k > t:
                return mp(end) / mp(init)
            rest = mp(1 - Fraction(k - w, t - w))
            powered = rest ** mp(power) if rest != 0 or power != 0 else mpmath.mpf(1)
            return (span * powered + mp(end)) / mp(init)

        return polynomial
    # cosine_warmup_with_min_lr: transformers' "..._lr_rate" lambda
    cycles = kw.get("num_cycles", 0.5)
    rate = mp(kw["min_lr_rate"] if kw.get("min_lr_rate") is not None
              else kw["min_lr"] / lr_init)
    wr = kw.get("warmup_lr_rate")

    def warmup_rate(k: int) -> mpmath.mpf:
        if k < w:
            if wr is None:
                return mp(Fraction(k + 1, max(1, w)))
            return mp(wr) + (1 - mp(wr)) * mp(Fraction(k, max(1, w - 1)))
        f = _cos_cycles(Fraction(k - w + 1, max(1, t - w)), cycles)
        return max(mpmath.mpf(0), f * (1 - rate) + rate)

    return warmup_rate


def get_scheduler(p: dict[str, Any], _: Any) -> tuple[Curve, None]:
    kw = {k: v for k, v in p.items()
          if k not in ("name", "num_warmup_steps", "num_training_steps", "lr")}
    base = mp(p["lr"])
    factor = factor_oracle(p["name"], p["num_warmup_steps"], p["num_training_steps"], kw,
                           p.get("lr_init", p["lr"]))
    return (lambda k: base * factor(k)), None


ORACLES = {"jaxsched.get_scheduler": get_scheduler}
