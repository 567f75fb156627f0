"""The main job: every implemented schedule against the stored reference curves.

    python -m jaxsched.tools.demo [-o out/schedules.png]

Builds each reference case's schedules (pure functions in float64 and float32 under
``jax.jit(jax.vmap(...))``, and the adapters), judges them three ways against the exact value
of the reference's formula (``jaxsched.tools.oracle``) and the stored reference curve, prints the
worst errors per reference class, and draws every case's curve over its reference points.
Exits 1 if anything is past tolerance.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import warnings
from typing import Any

import numpy as np

from jaxsched.tools import parity

COLUMNS = ("schedule", "cases", "f64 ours-exact", "f64 ref-exact", "f64 ours-ref",
           "f32 ours-exact", "adapter ours-exact", "verdict")


def error_table(cases: list[dict[str, Any]]) -> tuple[list[list[str]], bool]:
    """Rows of worst errors per (library, class), judged three ways (ours vs the exact value
    of the reference's formula, the reference vs exact, ours vs the reference), and whether
    all are within tolerance. float64 errors are relative to the exact value (ours against
    the reference too), float32 in units of the peak; ``of peak`` marks a float64 ours-ref
    worst at a step whose exact value is within rounding noise of zero; ``n/a`` where there
    is no oracle (user lambdas: the reference stands in)."""
    worst: dict[str, dict[str, Any]] = {}
    all_ok = True
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = parity.case_errors(case)
        name = f"hf:{case['hf']}" if "hf" in case else case["class"]
        row = worst.setdefault(name, {"cases": 0, "f64": 0.0, "ref": None, "oref": None,
                                      "oref_peak": False, "f32": 0.0, "ad": 0.0, "ok": True})
        row["cases"] += 1
        for label, e in errors.items():
            row["ok"] &= e.ok
            if label.endswith("beta2"):
                continue
            if label.startswith("pure64"):
                row["f64"] = max(row["f64"], e.ours)
                if e.ref is not None:
                    row["ref"] = max(row["ref"] or 0.0, e.ref)
                    if row["oref"] is None or e.ours_ref > row["oref"]:
                        row["oref"], row["oref_peak"] = e.ours_ref, e.ours_ref_of_peak
            elif label.startswith("pure32"):
                row["f32"] = max(row["f32"], e.ours)
            else:
                row["ad"] = max(row["ad"], e.ours)
        all_ok &= row["ok"]

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2e}"

    rows = [[name, str(r["cases"]), fmt(r["f64"]) if r["ref"] is not None else
             f"{fmt(r['f64'])} (vs ref)", fmt(r["ref"]),
             fmt(r["oref"]) + (" of peak" if r["oref_peak"] else ""), fmt(r["f32"]),
             fmt(r["ad"]), _verdict(r)]
            for name, r in worst.items()]
    return rows, all_ok


def _verdict(row: dict[str, Any]) -> str:
    if not row["ok"]:
        return "PAST TOLERANCE"
    if (row["ref"] or 0.0) > parity.FLOAT64_REL_TOL:
        return "ok (the reference is off exact)"
    return "ok"


def print_table(rows: list[list[str]], out: Any = None) -> None:
    out = sys.stdout if out is None else out  # looked up per call (captured streams)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(COLUMNS)]
    line = " | ".join(h.ljust(w) for h, w in zip(COLUMNS, widths, strict=True))
    print(line, file=out)
    print("-+-".join("-" * w for w in widths), file=out)
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)), file=out)
    print(LEGEND, file=out)


LEGEND = ("columns (worst per schedule): ours-exact = jaxsched vs the exact value of the "
          "reference's formula (mpmath), ref-exact = the reference library vs exact, ours-ref "
          "= jaxsched vs the reference (large where the reference is off exact), adapter = the "
          "torch-style adapter; f64 errors are |a - b| / |exact| (\"of peak\": / the peak, "
          "where exact is ~0), f32 errors / the peak; \"(vs ref)\": no oracle, the reference "
          "stands in")


RULE = (f"the rule, per step: float64 |ours - exact| <= {parity.FLOAT64_REL_TOL:g} |exact|, or no "
        f"further from exact than the reference; float32 |ours - exact| <= "
        f"{parity.FLOAT32_PEAK_TOL:g} of the peak")


def plot(cases: list[dict[str, Any]], path: pathlib.Path) -> None:
    """One panel per case, every case drawn: our float64 curve as a line over every step up
    to the last one below 10**4 (the far steps, to 2**31-1, are checked in the table, not
    drawn), the reference's recorded steps as black dots; momentum / beta1 in red on the
    right axis when it is scheduled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    cols = 5
    rows = -(-len(cases) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.7 * rows + 0.8), squeeze=False)
    for ax, case in zip(axes.flat, cases, strict=False):
        steps = np.asarray(case["steps"])
        near = steps < 10**4
        if not near.any():  # only far counts were recorded: draw those
            near = np.ones_like(steps, dtype=bool)
        drawn = steps[near]
        dense = np.arange(int(drawn.max()) + 1) if drawn.max() < 10**4 else drawn
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = parity.pure_curves(dict(case, steps=dense.tolist()), x64=True)
        for g in range(len(case["groups"])):
            ax.plot(dense, ours["lr"][g], lw=1.2)
            ax.plot(drawn, np.asarray(case["lr"][g])[near], ".", ms=3, color="k")
        if "momentum" in ours:
            twin = ax.twinx()
            twin.plot(dense, ours["momentum"][0], lw=1, color="tab:red")
            twin.plot(drawn, np.asarray(case["momentum"][0])[near], ".", ms=2, color="k")
            twin.set_ylabel("momentum / beta1", color="tab:red", fontsize=7)
            twin.tick_params(labelsize=6, labelcolor="tab:red")
        title = f"hf:{case['hf']}" if "hf" in case else case["class"]
        groups = len(case["groups"])
        ax.set_title(f"{title}: {case['name']}" + (f" ({groups} groups)" if groups > 1
                                                   else ""), fontsize=8)
        ax.set_xlabel("training step", fontsize=7)
        ax.set_ylabel("learning rate", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(cases):]:
        ax.axis("off")
    handles = [Line2D([], [], color="tab:blue", lw=1.2, label="jaxsched lr (one line per "
                      "param group)"),
               Line2D([], [], color="tab:red", lw=1, label="jaxsched momentum / beta1 "
                      "(right axis)"),
               Line2D([], [], color="k", marker=".", ls="", label="the reference library, "
                      "at its recorded steps")]
    height = fig.get_figheight()
    fig.suptitle(f"{len(cases)} stored reference cases: jaxsched (float64) against the "
                 f"library it ports", fontsize=12, y=1 - 0.08 / height, va="top")
    fig.legend(handles=handles, loc="upper center", ncol=3, fontsize=10,
               bbox_to_anchor=(0.5, 1 - 0.4 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / height))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxsched.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="out/schedules.png", type=pathlib.Path,
                        help="where to write the PNG of the curves (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"JAX backend: {parity.default_backend()}")
    status = 0
    for family in parity.FAMILIES:
        cases = parity.load_cases(family)
        print(f"\n{family}: {len(cases)} reference cases; {RULE}\n")
        rows, ok = error_table(cases)
        print_table(rows)
        status |= 0 if ok else 1
        path = args.output.with_name(f"{args.output.stem}-{family}{args.output.suffix}")
        plot(cases, path)
        print(f"\nwrote {path}")
    print("\nall within tolerance" if status == 0 else "\nPAST TOLERANCE")
    return status


if __name__ == "__main__":
    sys.exit(main())
