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
import pathlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from jaxsched._version import __version__
from jaxsched.tools import catalog, demo, parity
from jaxsched.tools.cli_common import (
    UsageError,
    _label,
    _progress,
    _pyplot,
    _save,
    evaluate,
    parse_specs,
)
from jaxsched.tools.cli_common import parse_value as parse_value  # the old home: still here
from jaxsched.tools.cli_compare import cmd_compare

__all__ = ["main"]


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
    plt = _pyplot("jaxsched plot")
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
    top.add_argument("--version", action="version", version=__version__)
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
    except (UsageError, ValueError, TypeError, OSError, LookupError, ImportError) as err:
        text = " ".join(str(err).split())  # one line
        print(f"jaxsched {args.command}: error: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
