"""The stored reference curves and the comparison of jaxsched against them.

Curves recorded from the real libraries by ``tests/reference/generate_*.py`` ship as package
data, so the comparison runs where torch and DeepSpeed are absent. One fixture case holds the
reference class, its keyword arguments, the param groups before construction, the steps, and
the lr / momentum (SGD ``momentum`` or Adam ``betas[0]``) / beta2 in force at each step.

The contract is ``judge``'s three-way rule (``jaxsched.tools.judge``), per step, against
the exact value of the reference's formula (``jaxsched.oracle``): float64 ``|ours - exact|
<= 1e-12 |exact|`` or no further from exact than the reference is; float32 ``|ours - exact|
<= 2e-6`` of the peak.
``case_errors`` applies it to every stored case (the reference stands in for the exact curve
where there is no oracle: user lambdas). ``compare`` / ``Errors`` remain the plain
two-way metrics (``rel`` over values above rounding noise, ``peak``, ``noise``) for comparing
two curves where no exact curve is at hand.
"""

from __future__ import annotations

import json
import math
import warnings
from importlib import resources
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxsched
from jaxsched.tools.judge import (  # noqa: F401  (the judging rule, re-exported)
    FLOAT32_PEAK_TOL,
    FLOAT64_REL_TOL,
    NOISE,
    TINY,
    Errors,
    ThreeWay,
    _judge_rows,
    compare,
    judge,
    within_tolerance,
)

__all__ = ["Errors", "ThreeWay", "adapter_curves", "build", "compare", "judge", "load_cases",
           "pure_curves", "FLOAT64_REL_TOL", "FLOAT32_PEAK_TOL"]

FAMILIES = ("deepspeed", "torch", "huggingface", "timm", "keras", "megatron")

# Named step functions for the lambda-taking schedulers. Plain arithmetic, so the same
# function runs on torch's Python ints and on jaxsched's traced integer arrays.
def pow095(e: Any) -> Any:
    return 0.95 ** e


def inv(e: Any) -> Any:
    return 1.0 / (1.0 + 0.1 * e)


def wobble(e: Any) -> Any:
    return 0.9 + 0.05 * (e % 2)


def const09(e: Any) -> Any:
    return 0.9 + 0.0 * e


def half_pow(x: Any) -> Any:
    return 0.5 ** x


# named module-level functions, so the schedules and adapters made with them pickle
LAMBDAS: dict[str, Any] = {f.__name__: f for f in (pow095, inv, wobble, const09, half_pow)}


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
    if "megatron" in case:
        return jaxsched.megatron.OptimizerParamScheduler(groups, **kwargs)
    if "keras" in case:  # a Keras schedule is its own front end: one per group
        return SimpleNamespace(schedules=[getattr(jaxsched.keras, case["class"])(
            **dict(kwargs, initial_learning_rate=g["lr"]) if "values" not in kwargs
            else kwargs) for g in groups], cycles_momentum=False)
    if "timm" in case:  # stepped per update, as the reference was
        return getattr(jaxsched.timm, case["class"])(groups, t_in_epochs=False, **kwargs)
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
    if "keras" in case:  # Keras calls schedule(iterations) eagerly: so do we, in float64
        with jax.enable_x64(True):
            return {"lr": np.asarray([[float(s(k)) for k in case["steps"]]
                                      for s in adapter.schedules])}
    rows: dict[str, list[list[float]]] = {"lr": [], "momentum": [], "beta2": []}
    metrics = case.get("metrics")
    for k in case["steps"]:
        if "timm" in case:  # stateless in t: timm's step_update(k) from any count
            if k:
                adapter.step_update(k)
        elif "megatron" in case:  # Megatron's step(increment)
            adapter.step(k - adapter.num_steps)
        elif metrics is not None:
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


def case_exact(case: dict[str, Any]) -> dict[str, np.ndarray]:
    """The exact curves (``jaxsched.oracle``) of a stored case at its steps, per group, for
    ``lr`` and ``momentum`` where an oracle exists (not for user lambdas)."""
    import mpmath

    from jaxsched.tools import oracle
    from jaxsched.transformers import oracle as hf_oracle

    steps = [int(k) for k in case["steps"]]
    if case["class"] == "ReduceLROnPlateau":
        from jaxsched.pytorch import oracle as torch_oracle

        kw = resolve_lambdas(case["kwargs"])
        min_lr = kw.pop("min_lr", 0.0)
        with mpmath.workdps(oracle.DPS):
            rows = [torch_oracle.reduce_lr_on_plateau(
                g["lr"], case["metrics"][:max(steps)],
                min_lr=min_lr[i] if isinstance(min_lr, list) else min_lr, **kw)
                for i, g in enumerate(case["groups"])]
            return {"lr": np.asarray([[float(r[k]) for k in steps] for r in rows])}
    out: dict[str, list[np.ndarray]] = {"lr": [], "momentum": []}
    with jax.enable_x64(True):
        if "hf" in case:
            kw = resolve_lambdas(case["kwargs"])
            spec = dict(kw.pop("scheduler_specific_kwargs", None) or {})
            lr_init = case["groups"][0]["lr"]
            factor = hf_oracle.factor_oracle(case["hf"], kw.get("num_warmup_steps"),
                                             kw.get("num_training_steps"), spec, lr_init)
            with mpmath.workdps(oracle.DPS):
                for g in case["groups"]:
                    base = mpmath.mpf(g["lr"])
                    out["lr"].append(np.asarray([float(base * factor(k)) for k in steps]))
            return {"lr": np.stack(out["lr"])}
        adapter = build(case)
        for s in adapter.schedules:
            curves = oracle.exact_curves(s, steps, momentum=adapter.cycles_momentum)
            if "lr" not in curves:
                return {}
            for key, values in curves.items():
                out[key].append(values)
    return {k: np.stack(v) for k, v in out.items() if v}


def case_errors(case: dict[str, Any]) -> dict[str, ThreeWay]:
    """Every comparison for one case, judged three ways (``judge``): ``{"pure64.lr":
    ThreeWay, "pure32.momentum": ..., "adapter.lr": ...}``; momentum is compared where the
    adapter schedules it. Without an oracle (user lambdas, DeepSpeed's fixed beta2) the
    reference stands in for the exact curve."""
    out: dict[str, ThreeWay] = {}
    exact = case_exact(case)
    steps = case["steps"]
    for x64 in (True, False) if "float64_only" not in case else (True,):
        label = "pure64" if x64 else "pure32"
        for key, curve in pure_curves(case, x64=x64).items():
            out[f"{label}.{key}"] = _judge_rows(curve, exact.get(key), case[key], x64=x64,
                                                steps=steps)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The epoch parameter")
        for key, curve in adapter_curves(case).items():
            out[f"adapter.{key}"] = _judge_rows(curve, exact.get(key), case[key], x64=True,
                                                steps=steps)
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


def state_mismatches(ours: Any, ref: Any, path: str = "", scale: float = 1.0,
                     exact: dict[str, float] | None = None) -> list[str]:
    """Where two stored-form state dicts differ: floats to 1e-12 relative, or 4 ulps of
    ``scale`` (the lr curve's peak) where the reference is rounding noise; NaN == NaN.
    ``exact`` maps paths (``"._last_lr[0]"``) to the exact value there: such a float may
    differ from the reference where it is within 1e-12 of exact or no further from it than
    the reference (the three-way rule of ``judge``)."""
    if isinstance(ours, dict) and isinstance(ref, dict):
        if set(ours) != set(ref):
            return [f"{path}: keys {sorted(ours)} vs {sorted(ref)}"]
        return [m for k in ref
                for m in state_mismatches(ours[k], ref[k], f"{path}.{k}", scale, exact)]
    if isinstance(ours, list) and isinstance(ref, list):
        if len(ours) != len(ref):
            return [f"{path}: length {len(ours)} vs {len(ref)}"]
        return [m for i, (a, b) in enumerate(zip(ours, ref, strict=True))
                for m in state_mismatches(a, b, f"{path}[{i}]", scale, exact)]
    if isinstance(ours, float) or isinstance(ref, float):
        if isinstance(ours, (int, float)) and isinstance(ref, (int, float)) and (
                math.isclose(ours, ref, rel_tol=FLOAT64_REL_TOL, abs_tol=0.0)
                or (abs(ref) <= NOISE * scale and abs(ours - ref) <= NOISE * scale)
                or (math.isnan(ours) and math.isnan(ref))
                or (exact is not None and path in exact
                    and judge([ours], [exact[path]], [ref], x64=True).ok)):
            return []
        return [f"{path}: {ours!r} vs {ref!r}"]
    # ints and floats compare by value (torch may keep 0 where we keep 0.0); anything else,
    # bools included, must also have the same type
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (ours, ref))
    equal = ours == ref and (numbers or type(ours) is type(ref))
    return [] if equal else [f"{path}: {ours!r} vs {ref!r}"]


def case_state_exact(case: dict[str, Any]) -> dict[str, float]:
    """The exact lr of each group at the case's ``state_step``, keyed by the state-dict
    path of torch's ``_last_lr`` (empty without an oracle)."""
    exact = case_exact(dict(case, steps=[case["state_step"]]))
    if "lr" not in exact:
        return {}
    return {f"._last_lr[{g}]": float(v[0]) for g, v in enumerate(exact["lr"])}


def case_peak(case: dict[str, Any]) -> float:
    """The largest |lr| of a case's reference curve."""
    return float(np.max(np.abs(np.asarray(case["lr"], dtype=np.float64)), initial=0.0)) or 1.0


def adapter_state(case: dict[str, Any]) -> dict[str, Any]:
    """Our adapter's state dict at the case's ``state_step``, in stored form."""
    adapter = build(case)
    metrics = case.get("metrics")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The epoch parameter")
        if "timm" in case:
            adapter.step_update(case["state_step"])
        if "megatron" in case:
            adapter.step(case["state_step"])
        for i in range(case["state_step"] if not {"timm", "megatron"} & set(case) else 0):
            adapter.step(metrics[i]) if metrics is not None else adapter.step()
    return plain_state(adapter.state_dict())


def default_backend() -> str:
    return f"{jax.default_backend()} ({jnp.zeros(()).devices().pop().device_kind})"
