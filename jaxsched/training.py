"""Schedules inside optax and flax training: scheduled optimizers, per-epoch stepping, and
writing an adapter's values into a training state without retracing."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxsched import _checks as check
from jaxsched.schedule import Schedule

__all__ = ["apply_hyperparams", "per_epoch", "scheduled"]

INJECTED = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)


def scheduled(factory: Callable[..., optax.GradientTransformation], schedule: Schedule,
              /, **hyperparams: Any) -> optax.GradientTransformationExtraArgs:
    """An optax optimizer whose lr and momentum / beta1 follow ``schedule``.

    Wraps ``factory`` (``optax.sgd``, ``optax.adam``, ``optax.adamw``, ``optax.lion``, ...) in
    ``optax.inject_hyperparams`` with ``learning_rate=schedule`` and, when the schedule
    cycles momentum, ``momentum=schedule.momentum`` (SGD-like) or ``b1=schedule.momentum``
    (Adam-like). The values in force are then readable from ``state.hyperparams`` after every
    update. Hyperparameters are kept in float32 (float64 under x64) whatever the params' dtype:
    with bf16 params optax would otherwise cast them to bf16 (b2 = 0.999 becomes 1.0).

    Args:
        factory: an optax optimizer factory taking ``learning_rate``.
        schedule: a ``jaxsched.Schedule``, any optax schedule (a function of the count), or a
            constant lr (a float >= 0).
        **hyperparams: the factory's other arguments, passed through.

    Returns:
        The optimizer, an ``optax.GradientTransformationExtraArgs``.

    Raises:
        TypeError: if the schedule has momentum and ``factory`` takes neither ``momentum``
            nor ``b1``, or if that argument is also given in ``hyperparams``; if
            ``factory`` is not callable or ``schedule`` is neither callable nor a number.
        ValueError: for a negative or non-finite constant lr.

    Example:
        >>> import jax.numpy as jnp, optax, jaxsched
        >>> s = jaxsched.one_cycle(0.01, 0.1, cycle_first_step_size=10)
        >>> opt = jaxsched.scheduled(optax.adam, s, b2=0.99)
        >>> state = opt.init(jnp.zeros(3, jnp.bfloat16))
        >>> _, state = opt.update(jnp.ones(3, jnp.bfloat16), state)
        >>> sorted(state.hyperparams), str(state.hyperparams["b2"].dtype)
        (['b1', 'b2', 'eps', 'eps_root', 'learning_rate'], 'float32')
    """
    fn = "jaxsched.scheduled"
    if not callable(factory):
        raise TypeError(f"{fn}: factory must be an optax optimizer factory such as optax.sgd, "
                        f"got {factory!r}")
    if not isinstance(schedule, Schedule):
        if callable(schedule):  # an optax schedule: a plain function of the count
            schedule = Schedule(schedule, name=getattr(schedule, "__name__", "optax schedule"))
        else:
            lr = check.nonneg(fn, "schedule", schedule)  # a constant lr
            schedule = Schedule(lambda k: jnp.full(jnp.shape(k), lr), name="constant",
                                params=dict(lr=lr))
    if "learning_rate" in hyperparams:
        raise TypeError(f"{fn}: learning_rate comes from the schedule; got learning_rate="
                        f"{hyperparams['learning_rate']!r} as well")
    kwargs = dict(hyperparams, learning_rate=schedule)
    if schedule.momentum is not None:
        params = inspect.signature(factory).parameters
        key = "momentum" if "momentum" in params else "b1" if "b1" in params else None
        if key is None:
            raise TypeError(f"{fn}: {schedule.name} schedules momentum but "
                            f"{getattr(factory, '__name__', factory)!r} takes neither "
                            f"momentum nor b1")
        if key in hyperparams:
            raise TypeError(f"{fn}: {key} comes from the schedule's momentum; got {key}="
                            f"{hyperparams[key]!r} as well")
        kwargs[key] = schedule.momentum
    return optax.inject_hyperparams(factory, hyperparam_dtype=jnp.result_type(float))(**kwargs)


def per_epoch(schedule: Schedule, steps_per_epoch: int) -> Schedule:
    """A schedule stepped once per epoch, as a function of the per-step count.

    ``per_epoch(s, n)(k) = s(k // n)`` (integer division), momentum included: a torch loop
    that calls ``scheduler.step()`` once per epoch runs inside a jitted per-step loop with no
    host round trip.

    Args:
        schedule: the per-epoch schedule.
        steps_per_epoch: optimizer steps per epoch, a positive integer.

    Returns:
        A ``Schedule`` of the step count.

    Raises:
        TypeError, ValueError: on a bad ``schedule`` or ``steps_per_epoch``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.per_epoch(jaxsched.step_lr(1, 0.5, lr=1.0), steps_per_epoch=3)
        >>> [float(s(k)) for k in range(7)]
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """
    fn = "jaxsched.per_epoch"
    if not isinstance(schedule, Schedule):
        raise TypeError(f"{fn}: schedule must be a jaxsched.Schedule, got {schedule!r}")
    n = check.integer(fn, "steps_per_epoch", steps_per_epoch, minimum=1)
    momentum = None if schedule.momentum is None else per_epoch(schedule.momentum, n)
    return Schedule(lambda k: schedule(k // n), momentum=momentum, name=fn,
                    params=dict(schedule=schedule, steps_per_epoch=n))


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
