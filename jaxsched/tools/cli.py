"""The ``jaxsched`` command: list, plot and compare schedules, and run the parity suite.

    jaxsched list
    jaxsched plot NAME key=value ... [NAME key=value ...] [--steps N] [-o FILE.png]
    jaxsched compare NAME key=value ... [--steps N] [-o FILE.png] [--float32]
    jaxsched compare --config ds_config.json [--steps N] [-o FILE.png]
    jaxsched compare --case STORED_CASE
    jaxsched parity

Exit status: 0 on success, 1 when a comparison is past tolerance, 2 on bad input.
"""

from __future__ import annotations

import argparse
import ast
import json
import pathlib
import sys
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import jax
import numpy as np

import jaxsched
from jaxsched.tools import catalog, demo, oracle, parity

__all__ = ["main"]


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


def _progress(desc: str, total: int | None = None):
    """A tqdm progress bar on stderr when it is a terminal."""
    from tqdm.auto import tqdm

    def wrap(items: Iterable[Any]) -> Iterable[Any]:
        return tqdm(items, desc=desc, total=total, disable=None, leave=False, file=sys.stderr)

    return wrap


def parse_value(text: str) -> Any:
    """``key=value`` values: JSON (numbers, lists, true/false/null), a Python literal
    (True, None, tuples), or else the plain string."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            pass
    return text


def parse_specs(tokens: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``NAME k=v k=v NAME k=v`` into ``[(NAME, {k: v}), ...]``."""
    specs: list[tuple[str, dict[str, Any]]] = []
    for token in tokens:
        if "=" in token:
            if not specs:
                raise UsageError(f"a key=value setting ({token!r}) must follow a schedule name")
            key, _, value = token.partition("=")
            if not key.isidentifier():
                raise UsageError(f"bad setting {token!r}: {key!r} is not a parameter name")
            specs[-1][1][key] = parse_value(value)
        else:
            catalog.lookup(token)
            specs.append((token, {}))
    if not specs:
        raise UsageError("give at least one schedule name (`jaxsched list` shows them)")
    return specs


def evaluate(schedule: jaxsched.Schedule, steps: int, *, x64: bool = True
             ) -> dict[str, np.ndarray]:
    """``{"lr": ..., "momentum": ...}`` at steps ``0 .. steps - 1``, one compiled call each."""
    with jax.enable_x64(x64):
        counts = np.arange(steps)
        out = {"lr": np.asarray(jax.jit(jax.vmap(schedule))(counts), dtype=np.float64)}
        if schedule.momentum is not None:
            out["momentum"] = np.asarray(jax.jit(jax.vmap(schedule.momentum))(counts),
                                         dtype=np.float64)
    return out


def _label(name: str, settings: dict[str, Any]) -> str:
    return " ".join([name, *(f"{k}={v}" for k, v in settings.items())])


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def cmd_list(args: argparse.Namespace) -> int:
    width = max(len(n) for n in catalog.ENTRIES)
    origin_width = max(len(e.origin) for e in catalog.ENTRIES.values())
    print(f"{'name'.ljust(width)}  {'origin'.ljust(origin_width)}  example settings")
    for entry in catalog.ENTRIES.values():
        example = entry.example if entry.cli else "(Python API only: takes schedulers or " \
                                                  "a metric)"
        print(f"{entry.name.ljust(width)}  {entry.origin.ljust(origin_width)}  {example}")
    print(f"\n{len(catalog.ENTRIES)} schedules. Every one also takes lr=... (default "
          f"{catalog.DEFAULT_LR}); presets take peak_lr. Try: jaxsched plot OneCycleLR "
          f"max_lr=0.1 total_steps=1000")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    specs = parse_specs(args.spec)
    curves = [(_label(n, s), evaluate(catalog.build(n, s), args.steps)) for n, s in specs]
    plt = _pyplot()
    with_momentum = any("momentum" in c for _, c in curves)
    fig, axes = plt.subplots(2 if with_momentum else 1, 1, sharex=True, squeeze=False,
                             figsize=(8, 6 if with_momentum else 4))
    for label, curve in curves:
        (line,) = axes[0, 0].plot(curve["lr"], lw=1.4, label=label)
        if "momentum" in curve:
            axes[1, 0].plot(curve["momentum"], lw=1.4, label=label, color=line.get_color())
    axes[0, 0].set_ylabel("learning rate")
    axes[0, 0].legend(fontsize=7)
    if with_momentum:
        axes[1, 0].set_ylabel("momentum / beta1")
    axes[-1, 0].set_xlabel("training step")
    fig.suptitle("jaxsched: " + ", ".join(n for n, _ in specs))
    fig.tight_layout()
    _save(fig, args.output or pathlib.Path("out") / f"plot-{specs[0][0].replace(':', '-')}.png")
    for label, curve in curves:
        print(f"{label}: lr from {curve['lr'][0]:.6g} to {curve['lr'][-1]:.6g}, "
              f"max {curve['lr'].max():.6g}")
    return 0


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
        adapter = jaxsched.from_deepspeed_config(path)  # reads and checks the config
        config = json.loads(path.read_text())
        if not isinstance(adapter, jaxsched.Adapter):
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
    plt = _pyplot()
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


def cmd_parity(args: argparse.Namespace) -> int:
    from jaxsched.tools import sweep

    backend = parity.default_backend()
    print(f"JAX backend: {backend}\n{demo.RULE}")
    status = 0
    for family in args.family or parity.FAMILIES:
        cases = parity.load_cases(family)
        print(f"\n{family}: {len(cases)} stored reference cases")
        rows, ok = demo.error_table(_progress(family, len(cases))(cases))
        demo.print_table(rows)
        status |= 0 if ok else 1
    if args.draws:
        print(f"\nexact oracle at realistic scale: {args.draws} random configurations per "
              f"schedule (phases 1..10^6 steps, counts to 2^31-1), float64 and float32")
        rows = sweep.sweep(n_draws=args.draws, seed=args.seed,
                           progress=lambda xs: _progress("oracle", len(xs))(xs))
        text = sweep.table(rows, backend)
        print(text)
        if args.table:
            args.table.parent.mkdir(parents=True, exist_ok=True)
            args.table.write_text(f"# Parity against the exact oracle\n\n`jaxsched parity "
                                  f"--draws {args.draws} --seed {args.seed}`\n\n{text}\n")
            print(f"wrote {args.table}")
        status |= 0 if all(r["ok"] for r in rows) else 1
    print("\nall within tolerance" if status == 0 else "\nPAST TOLERANCE")
    return status


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (no usage block): exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="jaxsched", description="torch, DeepSpeed and Hugging Face learning-rate "
        "schedules as exact JAX/optax schedules.", epilog="`jaxsched COMMAND --help` "
        "describes each command.")
    top.add_argument("--version", action="version", version=jaxsched.__version__)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="every schedule with its origin",
                   description="Every schedule name with its origin and example settings.")
    spec_help = ("a schedule name and its key=value settings (values as JSON: 0.1, [30,60], "
                 "true); lr=... sets the optimizer's lr")
    plot = sub.add_parser("plot", help="draw lr (and momentum) curves as a PNG",
                          description="Draw the lr (and momentum/beta1) of one or more "
                          "schedules; several NAMEs overlay.",
                          epilog="example: jaxsched plot StepLR step_size=100 gamma=0.5 "
                          "CosineAnnealingLR T_max=1000 -o curves.png")
    plot.add_argument("spec", nargs="+", metavar="NAME key=value", help=spec_help)
    compare = sub.add_parser(
        "compare", help="our curve against the original library's",
        description="Run the same schedule in jaxsched and in the original library (torch, "
        "DeepSpeed or transformers when installed; else a stored reference case with the "
        "same settings), print the max absolute and relative error, draw an overlay with "
        "the error underneath; exit 1 past tolerance.",
        epilog="examples: jaxsched compare OneCycleLR max_lr=0.1 total_steps=1000 | "
        "jaxsched compare --config ds_config.json | jaxsched compare --case cosine_far")
    compare.add_argument("spec", nargs="*", metavar="NAME key=value", help=spec_help)
    compare.add_argument("--config", help="a DeepSpeed config whose scheduler to compare")
    compare.add_argument("--case", help="a stored reference case, by name")
    compare.add_argument("--float32", action="store_true",
                         help="compare jaxsched in float32 (tolerance 2e-6 of the peak)")
    parity_cmd = sub.add_parser(
        "parity", help="the whole parity suite on this JAX backend",
        description="Every stored reference curve (torch, DeepSpeed, transformers) against "
        "jaxsched in float64, float32 and through the adapters, judged three ways with the "
        "exact oracle; then random configurations of every schedule at realistic scale "
        "against the oracle, as a table per schedule and dtype. Runs on the current JAX "
        "backend; exit 1 if anything is past tolerance.")
    parity_cmd.add_argument("--family", action="append", choices=parity.FAMILIES,
                            help="only this library's cases (repeatable)")
    parity_cmd.add_argument("--draws", type=int, default=3, metavar="N",
                            help="random realistic-scale configurations per schedule judged "
                            "against the exact oracle (default 3; 0 skips)")
    parity_cmd.add_argument("--seed", type=int, default=0, help="first seed of the draws")
    parity_cmd.add_argument("--table", type=pathlib.Path, metavar="PATH",
                            help="also write the oracle table as markdown to PATH")
    for cmd in (plot, compare):
        cmd.add_argument("--steps", type=int, default=1000, help="steps to draw (default 1000)")
        cmd.add_argument("-o", "--output", type=pathlib.Path, help="the PNG to write "
                         "(default: out/<command>-<name>.png)")
    from jaxsched.tools import cli_sweep  # `jaxsched sweep` (grid search), its own module

    cli_sweep.add_parser(sub, COMMANDS)
    return top


MAX_STEPS = 10_000_000
COMMANDS = {"list": cmd_list, "plot": cmd_plot, "compare": cmd_compare, "parity": cmd_parity}


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    p = parser()
    args = p.parse_args(argv)
    if not 1 <= getattr(args, "steps", 1) <= MAX_STEPS:
        p.error(f"--steps must be in [1, {MAX_STEPS}] (curves are drawn step by step; use "
                f"the Python API for far counts), got {args.steps}")
    if not 0 <= getattr(args, "draws", 0) <= 1000 or getattr(args, "seed", 0) < 0:
        p.error(f"--draws must be in [0, 1000] and --seed >= 0, got --draws {args.draws} "
                f"--seed {args.seed}")
    try:
        return COMMANDS[args.command](args)
    except (UsageError, ValueError, TypeError, OSError, LookupError) as err:
        text = " ".join(str(err).split())  # one line
        print(f"jaxsched {args.command}: error: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
