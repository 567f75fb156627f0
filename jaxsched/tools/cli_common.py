"""What the ``jaxsched`` commands share: one-line usage errors, ``NAME key=value`` parsing,
evaluating a schedule step by step, progress bars and figures (the optional extras)."""

from __future__ import annotations

import ast
import json
import pathlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import numpy as np

from jaxsched.core.extras import require
from jaxsched.core.schedule import Schedule
from jaxsched.tools import catalog

__all__ = ["UsageError", "evaluate", "parse_specs", "parse_value"]


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


def _progress(desc: str, total: int | None = None):
    """A tqdm progress bar on stderr when it is a terminal (none without tqdm, which
    ``jaxsched[cli]`` installs: a bar is a convenience, not worth failing a run for)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return lambda items: items

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


def evaluate(schedule: Schedule, steps: int, *, x64: bool = True
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


def _pyplot(what: str = "drawing") -> Any:
    """matplotlib's pyplot, drawing to files; a missing one named with its extra."""
    require("matplotlib", what).use("Agg")
    return require("matplotlib.pyplot", what)


def _save(fig: Any, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
