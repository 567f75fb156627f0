"""Reading and writing the hyperparameters that ``optax.inject_hyperparams`` keeps in an optax
state (also inside a chain, ``multi_transform``, a flax ``TrainState`` or an ``nnx.Optimizer``),
keeping each leaf's dtype, weak type, sharding and committedness."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["apply_hyperparams", "injected_states", "read_value"]

INJECTED = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)


def _like(old: Any, value: float) -> Any:
    """``value`` with the dtype, weak type, sharding and committedness of ``old``, so a
    jitted step taking it neither retraces nor meets an array committed elsewhere: an
    uncommitted leaf (``opt.init`` on unplaced params) stays uncommitted, a replicated one
    stays replicated over its mesh."""
    if getattr(old, "weak_type", False) and jnp.asarray(value).dtype == old.dtype:
        new = jnp.asarray(value)  # a Python float: weakly typed, like the leaf
    else:
        new = jnp.asarray(value, dtype=old.dtype)
    if isinstance(old, jax.Array) and old.committed:
        return jax.device_put(new, old.sharding)
    return new


def _set(hyper: dict, key: str, value: float) -> None:
    old = hyper[key]
    if read_value(old) is not old:  # a flax nnx Variable: written in place
        old[...] = _like(old[...], value)
    else:
        hyper[key] = _like(old, value)


def _is_injected(x: Any) -> bool:
    return isinstance(x, INJECTED)


def injected_states(state: Any) -> list[Any]:
    """Every ``optax.inject_hyperparams`` state inside ``state`` (an optax state, also in a
    chain or ``multi_transform``; a flax ``TrainState``; an ``nnx.Optimizer``), in tree
    order."""
    target = state.opt_state if _is_nnx_optimizer(state) else state
    return [x for x in jax.tree.leaves(target, is_leaf=_is_injected) if _is_injected(x)]


def read_value(x: Any) -> Any:
    """A hyperparameter's value: an array, or what an nnx Variable holds."""
    return x[...] if hasattr(x, "get_value") and not isinstance(x, jax.Array) else x


def apply_hyperparams(fn: str, state: Any, lrs: Sequence[float],
                      momenta: Sequence[float] | None) -> Any:
    """Writes per-group ``lrs`` (and ``momenta``) into the injected hyperparameters of
    ``state``: the i-th ``inject_hyperparams`` state in tree order gets group i (one group
    serves them all). Returns the new state; a flax ``nnx.Optimizer`` is updated in place."""
    nodes = injected_states(state)
    if not nodes:
        raise TypeError(f"{fn}: state has no injected hyperparameters (build the optimizer "
                        f"with optax.inject_hyperparams or jaxsched.scheduled), got "
                        f"{type(state).__name__}")
    if len(lrs) not in (1, len(nodes)):
        raise ValueError(f"{fn}: {len(lrs)} param groups but {len(nodes)} injected "
                         f"hyperparameter states in state")
    order = {id(n): i for i, n in enumerate(nodes)}

    def write(node: Any) -> Any:
        if not isinstance(node, INJECTED):
            return node
        g = order[id(node)] if len(lrs) > 1 else 0
        hyper = dict(node.hyperparams)
        if "learning_rate" not in hyper:
            raise TypeError(f"{fn}: an injected state has no learning_rate hyperparameter")
        _set(hyper, "learning_rate", lrs[g])
        if momenta is not None:
            key = "momentum" if "momentum" in hyper else "b1" if "b1" in hyper else None
            if key is None:
                raise TypeError(f"{fn}: the schedule cycles momentum but the optimizer has "
                                f"no momentum or b1 hyperparameter")
            _set(hyper, key, momenta[g])
        return node._replace(hyperparams=hyper)

    if _is_nnx_optimizer(state):  # nnx Variables were written in place
        jax.tree.map(write, state.opt_state, is_leaf=_is_injected)
        return state
    return jax.tree.map(write, state, is_leaf=_is_injected)


def _is_nnx_optimizer(state: Any) -> bool:
    return type(state).__name__ == "Optimizer" and type(state).__module__.startswith("flax.nnx")
