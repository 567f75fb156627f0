"""torch scheduler state dicts: comparing, validating and reading them.

``load_state_dict`` of every torch-style adapter goes through here: a dict whose keys are not
the scheduler's, or whose progress fields (``last_epoch``, ``_step_count``, ``_last_lr``,
``base_lrs``, ...) have the wrong type or range, raises before anything is changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jaxsched.core import checks as check

__all__ = ["PROGRESS", "check_progress", "check_settings", "lr_list", "same"]

PROGRESS = frozenset({"last_epoch", "_step_count", "_last_lr", "_is_initial",
                      "_get_lr_called_within_step"})


def same(a: Any, b: Any) -> bool:
    """Equality of state-dict values, floats to 1e-12 relative."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):  # JSON turns int keys to str
        a, b = ({str(k): v for k, v in m.items()} for m in (a, b))
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0) or (
                math.isinf(a) and a == b)
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def check_settings(fn: str, kind: str, state_dict: Any, ours: Mapping[str, Any],
                   progress: frozenset | set) -> None:
    """Raises unless ``state_dict`` has our keys and, outside ``progress``, our settings."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{fn}: state_dict must be a dict, got {state_dict!r}")
    if set(state_dict) != set(ours):
        raise ValueError(f"{fn}: state_dict is not a {kind}'s: expected keys {sorted(ours)}, "
                         f"got {sorted(state_dict)}")
    for key, value in ours.items():
        if key not in progress and not same(state_dict[key], value):
            raise ValueError(f"{fn}: state_dict has {key}={state_dict[key]!r} but this "
                             f"scheduler has {key}={value!r}; build it with the saved "
                             f"settings (or use jaxsched.from_torch)")


def lr_list(fn: str, name: str, value: Any, n: int, *, signed: bool = False) -> list[float]:
    """A list of ``n`` lrs, finite reals >= 0 as torch writes ``base_lrs``; ``signed``
    allows a tiny negative, as ``_last_lr`` may hold (torch's LinearLR decaying to 0 can leave
    a rounding residue of -1e-17, and such a dict must still load)."""
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{fn}: {name} must be a list of {n} lrs (one per param group), "
                         f"got {value!r}")
    checker = check.real if signed else check.nonneg
    return [checker(fn, f"{name}[{i}]", x) for i, x in enumerate(value)]


def check_progress(fn: str, state_dict: Mapping[str, Any], n_groups: int,
                   first_epoch: int = 0, max_count: int = check.MAX_COUNT) -> int:
    """Validates the progress fields torch writes and returns ``last_epoch`` (>=
    ``first_epoch``, <= ``max_count``, the adapter's limit)."""
    for key in ("_is_initial", "_get_lr_called_within_step"):
        if key in state_dict:
            check.boolean(fn, key, state_dict[key])
    if "_step_count" in state_dict:
        check.integer(fn, "_step_count", state_dict["_step_count"], minimum=0,
                      maximum=max_count + 1)
    for key in ("_last_lr", "base_lrs"):
        if key in state_dict:
            lr_list(fn, key, state_dict[key], n_groups, signed=key == "_last_lr")
    return check.integer(fn, "last_epoch", state_dict.get("last_epoch"), minimum=first_epoch,
                         maximum=max_count)
