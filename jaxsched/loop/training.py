"""Schedules inside optax and flax training: scheduled optimizers, per-epoch stepping, and
writing an adapter's values into a training state without retracing."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxsched.core import checks as check
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.core.wide import WideCount

__all__ = ["WideSchedule", "per_epoch", "scheduled"]


class WideSchedule:
    """An optax stateful schedule (``optax.inject_hyperparams`` takes it) whose state is a
    ``WideCount``: ``schedule`` at the exact count, advanced by 1 per update, past 2**31-1
    without x64 (optax's own count is int32 and saturates there)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def init(self) -> WideCount:
        return WideCount.zeros()

    def update(self, state: WideCount, **extra_args: Any) -> WideCount:
        del extra_args
        return WideCount(*state).add(1)

    def __call__(self, state: WideCount, **extra_args: Any) -> jax.Array:
        del extra_args
        return self.schedule(WideCount(*state))


def scheduled(factory: Callable[..., optax.GradientTransformation], schedule: Schedule,
              /, *, wide_count: bool = False, **hyperparams: Any
              ) -> optax.GradientTransformationExtraArgs:
    """An optax optimizer whose lr and momentum / beta1 follow ``schedule``.

    Wraps ``factory`` (``optax.sgd``, ``optax.adam``, ``optax.adamw``, ``optax.lion``, ...) in
    ``optax.inject_hyperparams`` with ``learning_rate=schedule`` and, when the schedule
    cycles momentum, ``momentum=schedule.momentum`` (SGD-like) or ``b1=schedule.momentum``
    (Adam-like). The values in force are then readable from ``state.hyperparams`` after every
    update. Hyperparameters are kept in float32 (float64 under x64) whatever the params' dtype:
    with bf16 params optax would otherwise cast them to bf16 (b2 = 0.999 becomes 1.0).

    optax's count is int32 and saturates at 2**31-1 (the schedule then holds its value).
    With ``wide_count=True`` the schedule keeps its own count, a ``jaxsched.WideCount``
    (``state.hyperparams_states["learning_rate"]``, two uint32 limbs), exact to 2**63-1
    without x64: each update evaluates the schedule's float32 formula at that exact count
    (int64 positions under a scoped x64, ``jaxsched.core.wide``; CPU or GPU, not TPU). Off
    by default: it changes the state's structure (checkpoints) and costs the 64-bit count's
    arithmetic each step (``bench/COUNTS-cpu.md``).

    Args:
        factory: an optax optimizer factory taking ``learning_rate``.
        schedule: a ``jaxsched.Schedule``, any optax schedule (a function of the count), or a
            constant lr (a float >= 0).
        wide_count: keep a ``WideCount`` per scheduled hyperparameter instead of optax's
            int32 count (for runs past 2**31-1 updates without x64).
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
    wide_count = check.boolean(fn, "wide_count", wide_count)
    wrap = WideSchedule if wide_count else (lambda s: s)
    kwargs = dict(hyperparams, learning_rate=wrap(schedule))
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
        kwargs[key] = wrap(schedule.momentum)
    return optax.inject_hyperparams(factory, hyperparam_dtype=jnp.result_type(float))(**kwargs)


@schedule_factory
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
