"""The hyperparameters in force, read from an optax state: one call, a pytree of arrays, usable
inside ``jit`` (no host sync, no retrace), for metrics.

``hyperparams(state, schedule)`` returns the values **the most recent update used** (what to
log next to that update's loss); before any update, the values the first update will use.
This is what ``optax.inject_hyperparams`` stores, so injected values are read as stored; a
state that holds only a count (``optax.adam(learning_rate=s)``: ``ScaleByScheduleState``;
``optax.add_decayed_weights(w)``) gives ``s(max(count - 1, 0))``, so the schedule must be
passed. Recognised, at any depth: ``inject_hyperparams`` (and ``jaxsched.scheduled``),
chains, ``multi_transform`` (one entry per group label), ``masked``, ``optax.MultiSteps``
(the inner optimizer's values: it advances per real update, not per micro-batch),
``jaxsched.reduce_lr_on_plateau``, ``jaxsched.grouped`` (per-group vectors) and flax
``TrainState`` / ``nnx.Optimizer``.

Wide counts (``wide_count=True`` on ``scheduled`` / ``grouped``; a ``jaxsched.WideCount``
anywhere a count-only state keeps one) are read exactly: the values stored by the update,
or ``s(count - 1)`` on the two limbs, past 2**31-1 without x64.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import optax

from jaxsched.core.hyperparams import INJECTED, _is_nnx_optimizer, read_value
from jaxsched.core.plateau import ReduceLROnPlateauState
from jaxsched.core.wide import WideCount

__all__ = ["hyperparams"]

FN = "jaxsched.hyperparams"
SCALAR_KINDS = ("f", "i", "u")


def _last(count: Any) -> Any:
    """The count of the most recent update (0 before any); a ``WideCount`` stays one."""
    if isinstance(count, WideCount):  # minus one with borrow, 0 stays 0
        zero = (count.hi == 0) & (count.lo == 0)
        borrow = (count.lo == 0).astype(jnp.uint32)
        return WideCount(jnp.where(zero, count.hi, count.hi - borrow),
                         jnp.where(zero, count.lo, count.lo - jnp.uint32(1)))
    return jnp.maximum(jnp.asarray(count) - 1, 0)


def _injected(state: Any) -> dict[str, Any]:
    out = {}
    for key, value in state.hyperparams.items():
        value = read_value(value)
        if hasattr(value, "dtype") and value.dtype.kind in SCALAR_KINDS:
            out[key] = value
    return out


def _scheduled(state: Any, schedule: Any, key: str, where: str) -> dict[str, Any]:
    if schedule is None or isinstance(schedule, Mapping):
        raise TypeError(f"{FN}: {where} holds only a count, so the {key} schedule is needed: "
                        f"pass it as schedule=... (a mapping of group labels to schedules "
                        f"for multi_transform), got {schedule!r}")
    # only the value the update used: a count-only state scales by the lr, and a schedule's
    # momentum (one_cycle's) never reached the optimizer, whose b1 / momentum stayed fixed
    return {key: schedule(_last(state.count))}


def _pick(schedules: Any, label: Any) -> Any:
    return schedules.get(label) if isinstance(schedules, Mapping) else schedules


def _walk(node: Any, schedule: Any, wd_schedule: Any, found: dict[str, Any]) -> None:
    from jaxsched.loop.decay import DecoupledDecayState  # (they import this module's
    from jaxsched.loop.groups import GroupedState  # package)

    if isinstance(node, INJECTED):
        for key, value in _injected(node).items():
            found.setdefault(key, value)
        return
    if isinstance(node, ReduceLROnPlateauState):
        found.setdefault("learning_rate", node.plateau.lr)
        return
    if isinstance(node, GroupedState):
        found.setdefault("learning_rate", node.learning_rate)
        found.setdefault("weight_decay", node.weight_decay)
        return
    if isinstance(node, DecoupledDecayState):
        found.setdefault("weight_decay", node.weight_decay)
        return
    if isinstance(node, optax.ScaleByScheduleState):
        for key, value in _scheduled(node, schedule, "learning_rate",
                                     "optax.scale_by_schedule's state").items():
            found.setdefault(key, value)
        return
    if type(node).__name__ == "WeightDecaySchedule" and hasattr(node, "count"):
        if wd_schedule is None:
            raise TypeError(f"{FN}: optax.add_decayed_weights with a schedule holds only a "
                            f"count: pass weight_decay_schedule=...")
        found.setdefault("weight_decay", wd_schedule(_last(node.count)))
        return
    if isinstance(node, optax.MultiStepsState):
        _walk(node.inner_opt_state, schedule, wd_schedule, found)
        return
    if isinstance(node, optax.MaskedState):
        _walk(node.inner_state, schedule, wd_schedule, found)
        return
    if isinstance(node, optax.MultiTransformState):
        for label, inner in node.inner_states.items():
            sub: dict[str, Any] = {}
            _walk(inner, _pick(schedule, label), _pick(wd_schedule, label), sub)
            found.setdefault(str(label), sub)
        return
    if isinstance(node, (tuple, list)):
        for child in node:
            _walk(child, schedule, wd_schedule, found)
        return
    if isinstance(node, Mapping):
        for child in node.values():
            _walk(child, schedule, wd_schedule, found)


def hyperparams(state: Any, schedule: Any = None, *,
                weight_decay_schedule: Any = None) -> dict[str, Any]:
    """The hyperparameters the most recent update of ``state``'s optimizer used.

    Formula: an injected value as stored; a counted schedule ``s(max(count - 1, 0))``.

    Args:
        state: an optax state (or a flax ``TrainState`` / ``nnx.Optimizer``).
        schedule: the lr schedule of a state that holds only a count (plain
            ``optax.adam(learning_rate=s)``); for ``multi_transform``, a mapping of group
            labels to schedules. Not needed for injected or jaxsched-grouped states.
        weight_decay_schedule: likewise, for ``optax.add_decayed_weights(schedule)``.

    Returns:
        A dict pytree of arrays: ``learning_rate`` (and ``momentum`` / ``b1`` / ``b2`` /
        ``weight_decay`` ... where the optimizer has them); for ``multi_transform`` one
        such dict per label; for ``jaxsched.grouped`` vectors over its groups.

    Raises:
        TypeError: eagerly (at trace time) when a counted state's schedule is missing, or
            when nothing in ``state`` carries a hyperparameter.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jaxsched
        >>> s = jaxsched.cosine_annealing_lr(10, lr=0.1)
        >>> opt = optax.adam(learning_rate=s)
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(3):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> h = jax.jit(lambda st: jaxsched.hyperparams(st, s))(state)
        >>> bool(h["learning_rate"] == s(2))
        True
    """
    target = state.opt_state if _is_nnx_optimizer(state) or (
        hasattr(state, "opt_state") and hasattr(state, "apply_gradients")) else state
    found: dict[str, Any] = {}
    _walk(target, schedule, weight_decay_schedule, found)
    if not found:
        raise TypeError(f"{FN}: no hyperparameter found in the state (no inject_hyperparams, "
                        f"scheduled, plateau or grouped transform): {type(target).__name__}")
    return found
