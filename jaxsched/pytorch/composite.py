"""torch's SequentialLR and ChainedScheduler (torch 2.13) over pure schedules."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.schedule import Schedule, schedule_factory

__all__ = ["chained_scheduler", "sequential_lr"]

# torch schedulers whose step multiplies the lr in the group by a factor of the step alone,
# so that chaining them multiplies their curves.
MULTIPLICATIVE = frozenset(f"jaxsched.{n}" for n in (
    "step_lr", "multi_step_lr", "constant_lr", "linear_lr", "exponential_lr", "polynomial_lr",
    "multiplicative_lr", "chained_scheduler"))


def _children(fn: str, schedules: Sequence[Schedule]) -> tuple[list[Schedule], float]:
    if isinstance(schedules, Schedule) or not isinstance(schedules, Sequence) or not schedules:
        raise ValueError(f"{fn}: schedules must be a non-empty sequence of jaxsched schedules, "
                         f"got {schedules!r}")
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(f"{fn}: schedules[{i}] must be a jaxsched.Schedule, got {s!r}")
    # cyclic_lr and one_cycle_lr set their own lrs; the others scale the optimizer's
    bases = {s.params["lr"] for s in schedules if "lr" in s.params}
    if len(bases) > 1:
        raise ValueError(f"{fn}: every schedule must be built on the same optimizer lr (torch "
                         f"chains schedulers of one optimizer), got lr={sorted(bases)}")
    return list(schedules), float(bases.pop()) if bases else 0.0


@schedule_factory
def sequential_lr(schedules: Sequence[Schedule], milestones: Sequence[int]) -> Schedule:
    """torch's SequentialLR: ``schedules[i]`` from milestone ``i - 1`` on, restarted.

    At step ``k`` the active schedule is ``schedules[j]`` with ``j`` the number of milestones
    ``<= k`` (torch's ``bisect_right``), evaluated at its own step ``k - milestones[j-1]``:
    torch resets each later scheduler to its step 0 (closed form) at its milestone.

    torch 2.13 quirks reproduced: ``milestones=[0]`` starts on ``schedules[1]`` at step 0
    (``bisect_right([0], 0) == 1``; ``schedules[0]`` never runs); a ``multiplicative_lr``
    entered at a milestone ``m > 0`` has no closed form in torch, so it continues from the lr
    in force at ``m - 1`` times ``lr_lambda(0)``. The momentum is the active schedule's when
    every schedule has one, else ``None``. Milestones that are unsorted, repeated or negative
    (torch silently skips or misorders schedulers) raise.

    Args:
        schedules: the schedules, all built on the same optimizer ``lr``.
        milestones: ``len(schedules) - 1`` strictly increasing steps >= 0.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on bad schedules or milestones.

    Example:
        >>> import jaxsched
        >>> warm = jaxsched.linear_lr(0.5, 1.0, total_iters=2, lr=1.0)
        >>> decay = jaxsched.exponential_lr(0.5, lr=1.0)
        >>> s = jaxsched.sequential_lr([warm, decay], milestones=[3])
        >>> [float(s(k)) for k in range(6)]
        [0.5, 0.75, 1.0, 1.0, 0.5, 0.25]

    Matches ``torch.optim.lr_scheduler.SequentialLR`` of torch 2.13.0.
    """
    fn = "jaxsched.sequential_lr"
    children, base = _children(fn, schedules)
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
        raise TypeError(f"{fn}: milestones must be a sequence of integers, got {milestones!r}")
    ms = [check.integer(fn, f"milestones[{i}]", m, minimum=0) for i, m in enumerate(milestones)]
    if len(ms) != len(children) - 1:
        raise ValueError(f"{fn}: expected {len(children) - 1} milestones (one fewer than "
                         f"schedules), got {len(ms)}: {list(milestones)!r}")
    if any(b <= a for a, b in itertools.pairwise(ms)):
        raise ValueError(f"{fn}: milestones must be strictly increasing, got {ms!r}")

    def segment_value(j: int, k: jax.Array, momentum: bool) -> jax.Array:
        child = children[j].momentum if momentum else children[j]
        assert child is not None
        start = ms[j - 1] if j > 0 else 0
        local = jnp.maximum(k - start, 0)
        if (not momentum and children[j].name == "jaxsched.multiplicative_lr" and start > 0):
            # only schedules before j can be active at start - 1
            before = value(jnp.asarray(start - 1, k.dtype), momentum=False, upto=j)
            factor0 = children[j].params["lr_lambda"](jnp.zeros((), k.dtype))
            ratio = child(local) / base if base != 0 else 0.0
            return before * factor0 * ratio
        return child(local)

    def value(k: jax.Array, momentum: bool, upto: int = len(children)) -> jax.Array:
        # torch's bisect_right(milestones, k): the number of milestones <= k
        active = jnp.sum(k[..., None] >= jnp.asarray(ms, k.dtype), axis=-1)
        out = segment_value(0, k, momentum)
        for j in range(1, upto):
            out = jnp.where(active == j, segment_value(j, k, momentum), out)
        return out

    with_momentum = all(c.momentum is not None for c in children)
    params = dict(schedules=children, milestones=ms, lr=base)
    momentum = (Schedule(lambda k: value(k, True), name=fn + ".momentum", params=params)
                if with_momentum else None)
    return Schedule(lambda k: value(k, False), momentum=momentum, name=fn, params=params)


@schedule_factory
def chained_scheduler(schedules: Sequence[Schedule]) -> Schedule:
    """torch's ChainedScheduler: every scheduler steps in turn, each scaling the lr it finds.

    For torch's multiplicative schedulers (``step_lr``, ``multi_step_lr``, ``constant_lr``,
    ``linear_lr``, ``exponential_lr``, ``polynomial_lr``, ``multiplicative_lr``, and chains of
    them) that is the product ``lr * prod_i(s_i(k) / lr)``, which this returns. Others
    (cosine, cyclic, one-cycle, lambda) set or shift the lr from their own state, so in a
    torch chain their result depends on the whole history of the others (torch's chainable
    cosine, for one, rescales whatever lr it finds by a ratio of cosines): they are refused
    deliberately here, since that curve has no closed form in the step count. The
    ``jaxsched.ChainedScheduler`` adapter runs torch's recursion for them on the host (feed
    its lrs to the jitted step with ``adapter.apply(state)``); or compose them with
    ``sequential_lr``, or write the product as a ``lambda_lr``.

    Args:
        schedules: the schedules, all built on the same optimizer ``lr``.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on a non-multiplicative schedule or mismatched ``lr``.

    Example:
        >>> import jaxsched
        >>> a = jaxsched.constant_lr(0.5, total_iters=2, lr=1.0)
        >>> b = jaxsched.exponential_lr(0.5, lr=1.0)
        >>> s = jaxsched.chained_scheduler([a, b])
        >>> [float(s(k)) for k in range(4)]
        [0.5, 0.25, 0.25, 0.125]

    Matches ``torch.optim.lr_scheduler.ChainedScheduler`` of torch 2.13.0.
    """
    fn = "jaxsched.chained_scheduler"
    children, base = _children(fn, schedules)
    for i, s in enumerate(children):
        if s.name not in MULTIPLICATIVE or "lr" not in s.params:
            raise ValueError(
                f"{fn}: schedules[{i}] ({s.name}) does not scale the lr it finds, so its effect "
                f"in a torch chain depends on the whole history; chainable: "
                f"{sorted(n.removeprefix('jaxsched.') for n in MULTIPLICATIVE)}")

    def lr_fn(k: jax.Array) -> jax.Array:
        out = jnp.asarray(base)
        for s in children:
            out = out * (s(k) / base) if base != 0 else out * 0.0
        return out

    return Schedule(lr_fn, name=fn, params=dict(schedules=children, lr=base))
