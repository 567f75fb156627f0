"""The stored reference curves and the comparison of jaxsched against them.

Curves recorded from the real libraries by ``tests/reference/generate_*.py`` ship as package
data, so the comparison runs where torch and DeepSpeed are absent. One fixture case holds the
reference class, its keyword arguments, the param groups before construction, the steps, and
the lr / momentum (SGD ``momentum`` or Adam ``betas[0]``) / beta2 in force at each step.

Metrics: ``rel`` is the largest ``|ours - ref| / |ref|`` (a nonzero value where the reference
is exactly 0 counts as infinite); ``peak`` is the largest ``|ours - ref|`` over the curve's peak
``max |ref|``. The contract is ``rel <= 1e-12`` in float64 and ``peak <= 2e-6`` in float32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxsched

__all__ = ["Errors", "adapter_curves", "build", "compare", "load_cases", "pure_curves",
           "FLOAT64_REL_TOL", "FLOAT32_PEAK_TOL"]

FLOAT64_REL_TOL = 1e-12
FLOAT32_PEAK_TOL = 2e-6
FAMILIES = ("deepspeed",)


def load_cases(family: str = "deepspeed") -> list[dict[str, Any]]:
    """The stored reference cases of ``family`` (``"deepspeed"``)."""
    if family not in FAMILIES:
        raise ValueError(f"jaxsched.parity.load_cases: family must be one of {FAMILIES}, "
                         f"got {family!r}")
    text = resources.files("jaxsched.reference_data").joinpath(f"{family}.json").read_text()
    return json.loads(text)["cases"]


def build(case: dict[str, Any]) -> Any:
    """The jaxsched adapter for a case, constructed as the reference was."""
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else dict(g)
              for g in case["groups"]]
    return getattr(jaxsched, case["class"])(groups, **case["kwargs"])


def pure_curves(case: dict[str, Any], *, x64: bool) -> dict[str, np.ndarray]:
    """The case's curves from the pure schedules, ``jax.jit(jax.vmap(s))`` over its steps."""
    adapter = build(case)
    steps = np.asarray(case["steps"], dtype=np.int64 if x64 else np.int32)
    with jax.enable_x64(x64):
        lr = np.stack([np.asarray(jax.jit(jax.vmap(s))(steps)) for s in adapter.schedules])
        out = {"lr": lr}
        if adapter.cycles_momentum:
            out["momentum"] = np.stack([np.asarray(jax.jit(jax.vmap(s.momentum))(steps))
                                        for s in adapter.schedules])
    return out


def adapter_curves(case: dict[str, Any]) -> dict[str, np.ndarray]:
    """The case's curves read from the adapter's ``param_groups``, stepping as the reference
    did: one ``step()`` at a time, then ``step(k - 1)`` jumps for far steps."""
    adapter = build(case)
    rows: dict[str, list[list[float]]] = {"lr": [], "momentum": [], "beta2": []}
    for k in case["steps"]:
        if k <= 20000:
            while adapter.last_batch_iteration < k - 1:
                adapter.step()
        else:
            adapter.step(k - 1)
        groups = adapter.param_groups
        rows["lr"].append([g["lr"] for g in groups])
        rows["momentum"].append([g["betas"][0] if "betas" in g else g.get("momentum", np.nan)
                                 for g in groups])
        rows["beta2"].append([g["betas"][1] if "betas" in g else np.nan for g in groups])
    return {key: np.asarray(value).T for key, value in rows.items() if key in case}


@dataclass(frozen=True)
class Errors:
    """Worst errors of one curve against its reference."""

    rel: float
    peak: float

    def ok(self, *, x64: bool) -> bool:
        return self.rel <= FLOAT64_REL_TOL if x64 else self.peak <= FLOAT32_PEAK_TOL


def compare(ours: np.ndarray, ref: Any) -> Errors:
    """``rel`` and ``peak`` errors of ``ours`` against ``ref`` (same shape)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        raise ValueError(f"jaxsched.parity.compare: shapes differ, {ours.shape} vs {ref.shape}")
    diff = np.abs(ours - ref)
    if not np.all(np.isfinite(ours)):
        return Errors(float("inf"), float("inf"))
    zero = ref == 0
    rel = np.where(zero, np.where(diff == 0, 0.0, np.inf), diff / np.where(zero, 1, np.abs(ref)))
    peak = float(np.max(np.abs(ref))) or 1.0
    return Errors(float(np.max(rel, initial=0.0)), float(np.max(diff, initial=0.0)) / peak)


def case_errors(case: dict[str, Any]) -> dict[str, Errors]:
    """Every comparison for one case: ``{"pure64.lr": Errors, "pure32.momentum": ...,
    "adapter.lr": ...}``; momentum is compared where the adapter schedules it."""
    out: dict[str, Errors] = {}
    for x64 in (True, False):
        label = "pure64" if x64 else "pure32"
        for key, curve in pure_curves(case, x64=x64).items():
            out[f"{label}.{key}"] = compare(curve, case[key])
    for key, curve in adapter_curves(case).items():
        out[f"adapter.{key}"] = compare(curve, case[key])
    return out


def within_tolerance(label: str, errors: Errors) -> bool:
    return errors.ok(x64=not label.startswith("pure32"))


def default_backend() -> str:
    return f"{jax.default_backend()} ({jnp.zeros(()).devices().pop().device_kind})"
