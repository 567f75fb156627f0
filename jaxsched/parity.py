"""The stored reference curves and the comparison of jaxsched against them.

Curves recorded from the real libraries by ``tests/reference/generate_*.py`` ship as package
data, so the comparison runs where torch and DeepSpeed are absent. One fixture case holds the
reference class, its keyword arguments, the param groups before construction, the steps, and
the lr / momentum (SGD ``momentum`` or Adam ``betas[0]``) / beta2 in force at each step.

Metrics: ``rel`` is the largest ``|ours - ref| / |ref|`` over reference values above rounding
noise; ``peak`` is the largest ``|ours - ref|`` over the curve's peak ``max |ref|``; ``noise``
is the largest ``|ours - ref| / peak`` where ``|ref| <= 4 ulps of the peak``. The contract:
float64 ``rel <= 1e-12`` and ``noise <= 4 ulps``; float32 ``peak <= 2e-6``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from importlib import resources
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxsched

__all__ = ["Errors", "adapter_curves", "build", "compare", "load_cases", "pure_curves",
           "FLOAT64_REL_TOL", "FLOAT32_PEAK_TOL"]

FLOAT64_REL_TOL = 1e-12
FLOAT32_PEAK_TOL = 2e-6
FAMILIES = ("deepspeed", "torch", "huggingface")

# Named step functions for the lambda-taking schedulers. Plain arithmetic, so the same
# function runs on torch's Python ints and on jaxsched's traced integer arrays.
LAMBDAS: dict[str, Any] = {
    "pow095": lambda e: 0.95 ** e,
    "inv": lambda e: 1.0 / (1.0 + 0.1 * e),
    "wobble": lambda e: 0.9 + 0.05 * (e % 2),
    "const09": lambda e: 0.9 + 0.0 * e,
    "half_pow": lambda x: 0.5 ** x,
}


def resolve_lambdas(value: Any) -> Any:
    """Replaces ``{"lambda": name}`` in fixture kwargs with ``LAMBDAS[name]``."""
    if isinstance(value, dict):
        if set(value) == {"lambda"}:
            return LAMBDAS[value["lambda"]]
        return {k: resolve_lambdas(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_lambdas(v) for v in value]
    return value


def load_cases(family: str = "deepspeed") -> list[dict[str, Any]]:
    """The stored reference cases of ``family`` (one of ``FAMILIES``)."""
    if family not in FAMILIES:
        raise ValueError(f"jaxsched.parity.load_cases: family must be one of {FAMILIES}, "
                         f"got {family!r}")
    text = resources.files("jaxsched.reference_data").joinpath(f"{family}.json").read_text()
    return json.loads(text)["cases"]


def _groups(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(g, betas=tuple(g["betas"])) if "betas" in g else dict(g)
            for g in case["groups"]]


def build(case: dict[str, Any]) -> Any:
    """The jaxsched adapter for a case, constructed as the reference was."""
    groups = _groups(case)
    kwargs = resolve_lambdas(case["kwargs"])
    if "hf" in case:  # transformers reads the torch optimizer's default lr: group 0's here
        optimizer = SimpleNamespace(param_groups=groups, defaults={"lr": groups[0]["lr"]})
        return jaxsched.get_scheduler(case["hf"], optimizer, **kwargs)
    if "children" in case:
        children = [getattr(jaxsched, c["class"])(groups, **resolve_lambdas(c["kwargs"]))
                    for c in case["children"]]
        if case["class"] == "ChainedScheduler":
            return jaxsched.ChainedScheduler(children, **kwargs)
        return getattr(jaxsched, case["class"])(groups, children, **kwargs)
    return getattr(jaxsched, case["class"])(groups, **kwargs)


def _plateau_curves(case: dict[str, Any], *, x64: bool) -> dict[str, np.ndarray]:
    """The in-graph ``reduce_lr_on_plateau`` transform, one per group, fed the metrics in
    a jitted ``lax.scan``: entry k is the lr in force for update k."""
    kwargs = resolve_lambdas(case["kwargs"])
    min_lr = kwargs.pop("min_lr", 0.0)
    metrics = np.asarray(case["metrics"], dtype=np.float64 if x64 else np.float32)
    rows = []
    with jax.enable_x64(x64):
        for g, group in enumerate(case["groups"]):
            floor = min_lr[g] if isinstance(min_lr, list) else min_lr
            tx = jaxsched.reduce_lr_on_plateau(group["lr"], min_lr=floor, **kwargs)

            @jax.jit
            def run(metrics: jax.Array, tx: Any = tx) -> jax.Array:
                def body(state: Any, m: jax.Array) -> tuple[Any, jax.Array]:
                    _, new = tx.update(jnp.zeros(1), state, value=m)
                    return new, new.plateau.lr

                state = tx.init(jnp.zeros(1))
                _, lrs = jax.lax.scan(body, state, metrics)
                return jnp.concatenate([state.plateau.lr[None], lrs])

            rows.append(np.asarray(run(metrics))[np.asarray(case["steps"])])
    return {"lr": np.stack(rows)}


def pure_curves(case: dict[str, Any], *, x64: bool) -> dict[str, np.ndarray]:
    """The case's curves from the pure schedules, ``jax.jit(jax.vmap(s))`` over its steps."""
    if case["class"] == "ReduceLROnPlateau":
        return _plateau_curves(case, x64=x64)
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
    metrics = case.get("metrics")
    for k in case["steps"]:
        if metrics is not None:
            while adapter.last_epoch < k:
                adapter.step(metrics[adapter.last_epoch])
        elif k <= 20000 or case["class"] in ("ChainedScheduler", "SequentialLR"):
            while adapter._count < k:
                adapter.step()
        else:
            adapter.step(k + adapter._counter_offset)
        groups = adapter.param_groups
        rows["lr"].append([g["lr"] for g in groups])
        rows["momentum"].append([g["betas"][0] if "betas" in g else g.get("momentum", np.nan)
                                 for g in groups])
        rows["beta2"].append([g["betas"][1] if "betas" in g else np.nan for g in groups])
    return {key: np.asarray(value).T for key, value in rows.items() if key in case}


@dataclass(frozen=True)
class Errors:
    """Worst errors of one curve against its reference: ``rel`` over reference values above
    rounding noise, ``noise`` (absolute, in units of the peak) over the values at it, and
    ``peak`` (absolute, in units of the peak) over all."""

    rel: float
    peak: float
    noise: float = 0.0

    def ok(self, *, x64: bool) -> bool:
        if x64:
            return self.rel <= FLOAT64_REL_TOL and self.noise <= NOISE
        return self.peak <= FLOAT32_PEAK_TOL


# Where the reference itself is rounding noise around zero (|ref| <= 4 ulps of the curve's
# peak, e.g. torch's recursive LinearLR ending at -7e-17 instead of 0, or a float64
# subnormal that XLA flushes to 0), a relative error means nothing: there the float64
# contract is an absolute error of at most 4 ulps of the peak.
NOISE = 4 * 2.0**-52


def compare(ours: np.ndarray, ref: Any, peak: float | None = None) -> Errors:
    """``rel``, ``peak`` and ``noise`` errors of ``ours`` against ``ref`` (same shape).

    ``peak`` is the curve's peak; by default ``max |ref|``. Pass it when ``ref`` is only a
    window of the curve (a few steps far out), whose own maximum is not the curve's."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        raise ValueError(f"jaxsched.parity.compare: shapes differ, {ours.shape} vs {ref.shape}")
    if not np.all(np.isfinite(ours)):
        return Errors(float("inf"), float("inf"), float("inf"))
    diff = np.abs(ours - ref)
    if peak is None:
        peak = float(np.max(np.abs(ref), initial=0.0)) or 1.0
    small = np.abs(ref) <= NOISE * peak
    rel = np.where(small, 0.0, diff / np.where(small, 1.0, np.abs(ref)))
    return Errors(float(np.max(rel, initial=0.0)), float(np.max(diff, initial=0.0)) / peak,
                  float(np.max(np.where(small, diff, 0.0), initial=0.0)) / peak)


def case_errors(case: dict[str, Any]) -> dict[str, Errors]:
    """Every comparison for one case: ``{"pure64.lr": Errors, "pure32.momentum": ...,
    "adapter.lr": ...}``; momentum is compared where the adapter schedules it."""
    out: dict[str, Errors] = {}
    for x64 in (True, False) if "float64_only" not in case else (True,):
        label = "pure64" if x64 else "pure32"
        for key, curve in pure_curves(case, x64=x64).items():
            out[f"{label}.{key}"] = compare(curve, case[key])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The epoch parameter")
        for key, curve in adapter_curves(case).items():
            out[f"adapter.{key}"] = compare(curve, case[key])
    return out


def plain_state(value: Any) -> Any:
    """A state dict as the generators store it (Counters and infinities spelled out)."""
    if isinstance(value, dict):
        if value and all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            return {"__counter__": sorted([k, v] for k, v in value.items())}
        return {k: plain_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_state(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return {"__float__": repr(value)}
    return value


def state_mismatches(ours: Any, ref: Any, path: str = "", scale: float = 1.0) -> list[str]:
    """Where two stored-form state dicts differ: floats to 1e-12 relative, or 4 ulps of
    ``scale`` (the lr curve's peak) where the reference is rounding noise; NaN == NaN."""
    if isinstance(ours, dict) and isinstance(ref, dict):
        if set(ours) != set(ref):
            return [f"{path}: keys {sorted(ours)} vs {sorted(ref)}"]
        return [m for k in ref for m in state_mismatches(ours[k], ref[k], f"{path}.{k}", scale)]
    if isinstance(ours, list) and isinstance(ref, list):
        if len(ours) != len(ref):
            return [f"{path}: length {len(ours)} vs {len(ref)}"]
        return [m for i, (a, b) in enumerate(zip(ours, ref, strict=True))
                for m in state_mismatches(a, b, f"{path}[{i}]", scale)]
    if isinstance(ours, float) or isinstance(ref, float):
        if isinstance(ours, (int, float)) and isinstance(ref, (int, float)) and (
                math.isclose(ours, ref, rel_tol=FLOAT64_REL_TOL, abs_tol=0.0)
                or (abs(ref) <= NOISE * scale and abs(ours - ref) <= NOISE * scale)
                or (math.isnan(ours) and math.isnan(ref))):
            return []
        return [f"{path}: {ours!r} vs {ref!r}"]
    # ints and floats compare by value (torch may keep 0 where we keep 0.0); anything else,
    # bools included, must also have the same type
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (ours, ref))
    equal = ours == ref and (numbers or type(ours) is type(ref))
    return [] if equal else [f"{path}: {ours!r} vs {ref!r}"]


def case_peak(case: dict[str, Any]) -> float:
    """The largest |lr| of a case's reference curve."""
    return float(np.max(np.abs(np.asarray(case["lr"], dtype=np.float64)), initial=0.0)) or 1.0


def adapter_state(case: dict[str, Any]) -> dict[str, Any]:
    """Our adapter's state dict at the case's ``state_step``, in stored form."""
    adapter = build(case)
    metrics = case.get("metrics")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The epoch parameter")
        for i in range(case["state_step"]):
            adapter.step(metrics[i]) if metrics is not None else adapter.step()
    return plain_state(adapter.state_dict())


def within_tolerance(label: str, errors: Errors) -> bool:
    return errors.ok(x64=not label.startswith("pure32"))


def default_backend() -> str:
    return f"{jax.default_backend()} ({jnp.zeros(()).devices().pop().device_kind})"
