"""Exact oracles: every reference schedule's formula in arbitrary precision.

Each oracle evaluates the *reference's own formula* (DeepSpeed 0.19.8, torch 2.13.0,
transformers 5.23.0, the presets' papers) with ``mpmath`` at 50 significant digits, with the
reference's integer semantics (floors, cycle indices, off-by-ones, the quirks of
``REFERENCE-SEMANTICS.md``) and its arguments taken as the exact binary numbers they are.
It is the third party in every parity judgement: ours vs the reference, the reference vs
exact, ours vs exact (see ``jaxsched.parity``).

Oracles are looked up from a ``jaxsched.Schedule``'s ``name`` and validated ``params``, so an
adapter's schedules, a composite's children and a pure schedule all find theirs;
ReduceLROnPlateau's (``jaxsched.oracle.torch.reduce_lr_on_plateau``) takes its metrics. Where an
oracle would only restate user code (``lambda_lr``, ``multiplicative_lr``, a custom
``scale_fn``), there is none: those are compared with the reference directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import mpmath
import numpy as np

from jaxsched.core.mp import DPS, Curve
from jaxsched.deepspeed import oracle as deepspeed
from jaxsched.keras import oracle as keras
from jaxsched.megatron import oracle as megatron
from jaxsched.presets import oracle as presets
from jaxsched.pytorch import oracle as torch
from jaxsched.timm import oracle as timm
from jaxsched.transformers import oracle as huggingface

__all__ = ["DPS", "Curve", "exact", "exact_curves", "exact_values", "has_oracle", "oracle_for"]

_FAMILIES = (deepspeed.ORACLES, torch.ORACLES, huggingface.ORACLES, presets.ORACLES,
             timm.ORACLES, keras.ORACLES, megatron.ORACLES)


def oracle_for(schedule: Any) -> Curve | None:
    """The exact curve ``k -> mpf`` of a ``jaxsched.Schedule`` (or of its ``.momentum``),
    or ``None`` where there is no oracle (user lambdas, custom ``scale_fn``)."""
    name = getattr(schedule, "name", None)
    params = getattr(schedule, "params", None)
    if not isinstance(name, str) or params is None:
        raise TypeError(f"jaxsched.oracle.oracle_for: schedule must be a jaxsched.Schedule, "
                        f"got {schedule!r}")
    momentum = name.endswith(".momentum")
    base = name.removesuffix(".momentum")
    if base.startswith("jaxsched.get_scheduler("):
        base = "jaxsched.get_scheduler"
    for table in _FAMILIES:
        if base in table:
            lr, mom = table[base](params, oracle_for)
            return mom if momentum else lr
    if base in COMPOSITES:
        lr, mom = COMPOSITES[base](params)
        return mom if momentum else lr
    return None


def has_oracle(schedule: Any) -> bool:
    return oracle_for(schedule) is not None


def exact(schedule: Any, steps: Iterable[int]) -> list[mpmath.mpf] | None:
    """The exact values at ``steps`` (mpf, 50 digits), or ``None`` without an oracle."""
    curve = oracle_for(schedule)
    if curve is None:
        return None
    with mpmath.workdps(DPS):
        return [curve(int(k)) for k in steps]


def exact_values(schedule: Any, steps: Iterable[int]) -> np.ndarray | None:
    """``exact`` rounded to float64 (correctly rounded, 0.5 ulp)."""
    values = exact(schedule, steps)
    return None if values is None else np.asarray([float(v) for v in values], np.float64)


def exact_curves(schedule: Any, steps: Iterable[int],
                 momentum: bool = True) -> dict[str, np.ndarray]:
    """``{"lr": ..., "momentum": ...}``: ``exact_values`` of a schedule and of its momentum
    (when it has one and ``momentum``), each only where an oracle exists."""
    steps = list(steps)
    fns = {"lr": schedule, "momentum": schedule.momentum if momentum else None}
    out = {k: exact_values(f, steps) for k, f in fns.items() if f is not None}
    return {k: v for k, v in out.items() if v is not None}


# ----- torch's composites, over their children's oracles -----

def _sequential(params: dict[str, Any]) -> tuple[Curve | None, Curve | None]:
    children, ms = params["schedules"], params["milestones"]
    if any(c.name == "jaxsched.multiplicative_lr" for c in children):
        return None, None

    def make(momentum: bool) -> Curve | None:
        curves = [oracle_for(c.momentum if momentum else c) if (
            not momentum or c.momentum is not None) else None for c in children]
        if any(c is None for c in curves):
            return None

        def value(k: int) -> mpmath.mpf:
            j = sum(1 for m in ms if m <= k)  # bisect_right
            start = ms[j - 1] if j > 0 else 0
            return curves[j](k - start)

        return value

    return make(False), make(True)


def _chained(params: dict[str, Any]) -> tuple[Curve | None, None]:
    curves = [oracle_for(c) for c in params["schedules"]]
    if any(c is None for c in curves):
        return None, None
    base = mpmath.mpf(params["lr"])

    def value(k: int) -> mpmath.mpf:
        out = base
        for c in curves:
            out = out * (c(k) / base) if base != 0 else mpmath.mpf(0)
        return out

    return value, None


COMPOSITES: dict[str, Callable[[dict[str, Any]], tuple[Curve | None, Curve | None]]] = {
    "jaxsched.sequential_lr": _sequential,
    "jaxsched.chained_scheduler": _chained,
}
