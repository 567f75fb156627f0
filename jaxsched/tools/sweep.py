"""Random configurations at realistic scale judged against the exact oracle: the piece
shared by the property tests and ``jaxsched parity``, on whatever JAX backend is present."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import numpy as np

from jaxsched.tools import draws, parity
from jaxsched.tools.oracle import exact_curves

__all__ = ["judge_draw", "sweep", "table"]


def judge_draw(name: str, seed: int, x64: bool) -> dict[str, parity.ThreeWay]:
    """One drawn configuration of ``name`` (``draws.draw``) in one dtype: ``{"lr":
    verdict, "momentum": verdict, "lr.scalar": ...}``. Each curve is evaluated as
    ``jax.jit(jax.vmap(s))`` over the drawn steps and as ``jax.jit(s)`` on every fifth step
    (XLA may round the two forms differently), and judged against the exact curve."""
    with jax.enable_x64(True):
        schedule, steps = draws.draw(name, seed)
        exact = exact_curves(schedule, steps)
    out = {}
    with jax.enable_x64(x64):
        schedule, steps = draws.draw(name, seed)
        counts = np.asarray(steps, np.int64 if x64 else np.int32)
        for key, truth in exact.items():
            fn = schedule if key == "lr" else schedule.momentum
            vmapped = np.asarray(jax.jit(jax.vmap(fn))(counts))
            out[key] = parity.judge(vmapped, truth, x64=x64, steps=steps)
            one = jax.jit(fn)
            scalar = np.asarray([one(c) for c in counts[::5]])
            out[f"{key}.scalar"] = parity.judge(scalar, truth[::5], x64=x64,
                                                peak=float(np.max(np.abs(truth))) or 1.0,
                                                steps=steps[::5])
    return out


def sweep(names: Iterable[str] | None = None, n_draws: int = 3, seed: int = 0,
          progress: Any = iter) -> list[dict[str, Any]]:
    """Worst ours-vs-exact per schedule and dtype over ``n_draws`` draws each."""
    rows = []
    for name in progress(list(names or draws.DRAWS)):
        for x64 in (True, False):
            worst: dict[str, float] = {}
            ok, where = True, ""
            for s in range(seed, seed + n_draws):
                for key, v in judge_draw(name, s, x64).items():
                    curve = key.removesuffix(".scalar")
                    if v.ours >= worst.get(curve, 0.0):
                        worst[curve] = v.ours
                    if not v.ok:
                        ok, where = False, f"seed {s}, {key}, step {v.worst_step}"
            rows.append({"schedule": name, "dtype": "float64" if x64 else "float32",
                         "lr": worst.get("lr", 0.0), "momentum": worst.get("momentum"),
                         "draws": n_draws, "ok": ok, "failure": where})
    return rows


def table(rows: list[dict[str, Any]], backend: str) -> str:
    """A markdown table of ``sweep``'s rows."""
    lines = [f"Backend: {backend}. Worst ours-vs-exact over the draws: relative in float64, "
             f"in units of the curve's peak in float32; tolerance {parity.FLOAT64_REL_TOL:g} "
             f"and {parity.FLOAT32_PEAK_TOL:g}.", "",
             "| schedule | dtype | lr | momentum | draws | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        mom = "" if r["momentum"] is None else f"{r['momentum']:.2e}"
        verdict = "ok" if r["ok"] else f"PAST TOLERANCE ({r['failure']})"
        lines.append(f"| {r['schedule']} | {r['dtype']} | {r['lr']:.2e} | {mom} | "
                     f"{r['draws']} | {verdict} |")
    return "\n".join(lines)
