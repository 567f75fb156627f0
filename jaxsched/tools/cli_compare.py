"""``jaxsched compare``: one schedule against the original library (live, or a stored case),
judged against the exact oracle, printed and drawn with the errors underneath."""

from __future__ import annotations

import argparse
import json
import pathlib
import textwrap
import warnings
from typing import Any

import numpy as np

from jaxsched.core.adapter import Adapter
from jaxsched.deepspeed.config import from_deepspeed_config
from jaxsched.tools import catalog, demo, oracle, parity
from jaxsched.tools.cli_common import (
    UsageError,
    _label,
    _progress,
    _pyplot,
    _save,
    evaluate,
    parse_specs,
)

__all__ = ["cmd_compare"]


def _config_reference(config: dict[str, Any], group: dict[str, Any], steps: int
                      ) -> dict[str, np.ndarray]:
    """The config's scheduler run by DeepSpeed (or torch) on one torch param ``group``."""
    import torch

    lr_schedules = catalog.import_deepspeed_schedules()

    param = torch.nn.Parameter(torch.zeros(1))
    if "betas" in group:
        opt = torch.optim.Adam([param], lr=group["lr"], betas=group["betas"])
    else:
        opt = torch.optim.SGD([param], lr=group["lr"], momentum=group["momentum"])
    name, params = config["scheduler"]["type"], config["scheduler"]["params"]
    cls = (getattr(lr_schedules, name) if hasattr(lr_schedules, name)
           else getattr(torch.optim.lr_scheduler, name))
    return catalog.walk(opt, cls(opt, **params), steps, _progress("DeepSpeed", steps - 1))


def _compare_curves(args: argparse.Namespace
                    ) -> tuple[str, dict, dict, dict, np.ndarray, str]:
    """(title, ours, reference, exact, steps, where the reference came from)."""
    x64 = not args.float32
    if args.case:
        case = next((c for f in parity.FAMILIES for c in parity.load_cases(f)
                     if c["name"] == args.case), None)
        if case is None:
            names = sorted(c["name"] for f in parity.FAMILIES for c in parity.load_cases(f))
            raise UsageError(f"no stored case {args.case!r}; stored cases: {', '.join(names)}")
        return f"stored case {case['name']}", *_stored(case, x64), "stored"
    steps = np.arange(args.steps)
    if args.config:
        path = pathlib.Path(args.config)
        adapter = from_deepspeed_config(path)  # reads and checks the config
        config = json.loads(path.read_text())
        if not isinstance(adapter, Adapter):
            raise UsageError(f"{path.name}: {config['scheduler']['type']} follows a metric, "
                             f"not the step count, so it has no curve to compare")
        ours = evaluate(adapter.schedules[0], args.steps, x64=x64)
        title = f"{path.name}: {config['scheduler']['type']}"
        try:  # the optimizer as the config builds it (not with the lr in force at step 0)
            ref = _config_reference(config, adapter._groups[0], args.steps)
        except ImportError as err:
            raise UsageError(f"comparing a config needs torch and DeepSpeed ({err})") from None
        exact = oracle.exact_curves(adapter.schedules[0], steps, momentum="momentum" in ours)
        return title, ours, ref, exact, steps, "DeepSpeed 0.19.8 / torch (live)"
    specs = parse_specs(args.spec)
    if len(specs) != 1:
        raise UsageError(f"compare takes one schedule, got {[n for n, _ in specs]}")
    name, settings = specs[0]
    schedule = catalog.build(name, settings)
    ours = evaluate(schedule, args.steps, x64=x64)
    try:
        ref = catalog.reference_curve(name, settings, args.steps,
                                      _progress(name, args.steps - 1))
        where = f"{catalog.ENTRIES[name].origin} (live)"
    except LookupError as err:
        raise UsageError(str(err)) from None
    except ImportError:
        case = catalog.stored_case(name, settings)
        if case is None:
            raise UsageError(f"the original library of {name} is not installed and no stored "
                             f"reference case has these settings; compare a stored one with "
                             f"--case (see `jaxsched parity`)") from None
        return _label(name, settings), *_stored(case, x64), "stored"
    if "momentum" not in ours:
        ref.pop("momentum", None)
    exact = oracle.exact_curves(schedule, steps, momentum="momentum" in ours)
    return _label(name, settings), ours, ref, exact, steps, where


def _stored(case: dict[str, Any], x64: bool) -> tuple[dict, dict, dict, np.ndarray]:
    """(ours, the stored reference, exact, steps) for group 0 of a stored case."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = {k: v[0] for k, v in parity.pure_curves(case, x64=x64).items()}
    exact = {k: v[0] for k, v in parity.case_exact(case).items() if k in ours}
    return (ours, {k: np.asarray(case[k][0], np.float64) for k in ours}, exact,
            np.asarray(case["steps"]))


def cmd_compare(args: argparse.Namespace) -> int:
    if sum(map(bool, (args.spec, args.config, args.case))) != 1:
        raise UsageError("give a schedule (NAME key=value ...), --config FILE or --case NAME")
    title, ours, ref, exact, steps, where = _compare_curves(args)
    n = min(len(ref["lr"]), len(steps))  # a reference may refuse to go further
    cut = lambda d: {k: v[:n] for k, v in d.items()}  # noqa: E731
    ours, ref, exact, steps = cut(ours), cut(ref), cut(exact), steps[:n]
    x64 = not args.float32
    print(f"{title}\nreference: {where}; ours: float{'64' if x64 else '32'} on "
          f"{parity.default_backend()}, {len(steps)} steps; exact: the reference's formula "
          f"in {oracle.DPS}-digit arithmetic")
    unit = "rel" if x64 else "of peak"
    ok = True
    for key in ours:
        if key in exact:
            v = parity.judge(ours[key], exact[key], ref[key], x64=x64, steps=steps)
            good = v.ok
            print(f"  {key}: ours vs exact {v.ours:.3e} {unit} (worst at step {v.worst_step}), "
                  f"reference vs exact {v.ref:.3e} {unit}, ours vs reference "
                  f"{v.ours_ref:.3e} {unit}  {'within tolerance' if good else 'PAST TOLERANCE'}")
        else:
            v = parity.judge(ours[key], ref[key], x64=x64, steps=steps)
            good = v.ok
            print(f"  {key}: ours vs reference {v.ours:.3e} {unit} (no exact oracle for "
                  f"this schedule)  {'within tolerance' if good else 'PAST TOLERANCE'}")
        ok &= good
    print(f"rule: {demo.RULE}\nverdict: {'within tolerance' if ok else 'PAST TOLERANCE'}")
    stem = (args.case or (pathlib.Path(args.config).stem if args.config
                          else args.spec[0].replace(":", "-")))
    _save(_compare_figure(title, ours, ref, exact, steps, where, x64),
          args.output or pathlib.Path("out") / f"compare-{stem}.png")
    return 0 if ok else 1


def _compare_figure(title: str, ours: dict, ref: dict, exact: dict, steps: np.ndarray,
                    where: str, x64: bool) -> Any:
    """Curves on top; underneath, each library's distance from the exact curve (or ours
    from the reference, without an oracle) with the tolerance drawn as a line."""
    plt = _pyplot("jaxsched compare")
    keys = list(ours)
    fig, axes = plt.subplots(2, len(keys), squeeze=False, sharex=True,
                             figsize=(7.5 * len(keys), 6.5), height_ratios=[3, 2])
    dots = len(steps) <= 300
    # recorded steps with gaps (a stored case's far counts) are drawn as points, on a
    # symmetric-log axis when they span decades: a line would invent values in the gaps
    sparse = len(steps) > 1 and bool(np.any(np.diff(steps) != 1))
    for col, key in enumerate(keys):
        top, bottom = axes[0, col], axes[1, col]
        if sparse:
            top.plot(steps, ours[key], "o", mfc="none", ms=6, label="jaxsched")
        else:
            top.plot(steps, ours[key], lw=1.4, label="jaxsched")
        top.plot(steps, ref[key], "k." if dots or sparse else "k--", lw=0.9, ms=4,
                 label=f"reference: {where}")
        if sparse and steps.max() > 100 * max(1, int(np.median(np.diff(steps)))):
            top.set_xscale("symlog", linthresh=10)
        top.set_ylabel("momentum / beta1" if key == "momentum" else "learning rate")
        top.legend(fontsize=8)
        truth = exact.get(key, ref[key])
        peak = float(np.max(np.abs(truth))) or 1.0
        series = [("jaxsched", ours[key], "tab:blue", ".")]
        if key in exact:
            series.append(("reference", ref[key], "k", "x"))
        for label, curve, color, marker in series:
            err = np.abs(curve - truth) / (np.maximum(np.abs(truth), parity.TINY) if x64
                                           else peak)
            shown = err > 0
            bottom.semilogy(steps[shown], err[shown], marker, ms=3, color=color,
                            label=f"{label} ({int((~shown).sum())} of {len(err)} steps exact,"
                                  f" not drawn)")
        tol = parity.FLOAT64_REL_TOL if x64 else parity.FLOAT32_PEAK_TOL
        bottom.axhline(tol, color="tab:red", lw=1, ls="--", label=f"tolerance {tol:g}")
        against = "exact" if key in exact else "the reference"
        bottom.set_ylabel(f"error vs {against}\n({'relative' if x64 else 'of the peak'})")
        bottom.set_xlabel("training step")
        bottom.legend(fontsize=7, loc="best")
    fig.suptitle(textwrap.fill(title, 72), fontsize=11)  # long settings wrap, not clip
    fig.tight_layout()
    return fig
