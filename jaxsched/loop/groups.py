"""torch's param groups in optax terms: rules from parameter paths to lr and weight-decay
multipliers, decay masks and per-group schedules; layer-wise lr decay; and ``grouped``, one
transform that applies them all with one evaluation per distinct schedule per step.

A leaf's update is, with ``g`` its group (the first rule its path matches), ``u`` the
direction (``scale_by_adam``'s output, ...), ``p`` the parameter:

- coupled (torch ``AdamW``, optax ``adamw``): ``-lr_g(t) m (u + wd_g(t) w p)``;
- decoupled (``decoupled=True``, decay not scaled by the lr): ``-lr_g(t) m u - wd_g(t) w p``;

``m`` the leaf's lr multiplier (the rule's ``lr_mult`` times its layer-wise factor
``decay**(L - layer)``), ``w`` its weight-decay multiplier (0 where masked). Paths are
``/``-joined keys (``params/encoder/layer_3/kernel``); a rule's pattern is a regex searched
in the path, or a predicate ``(path, leaf) -> bool``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxsched.core import checks as check
from jaxsched.core.schedule import Schedule
from jaxsched.core.wide import WideCount

__all__ = ["GroupedState", "Groups", "Rule", "grouped", "layerwise", "param_groups",
           "path_name", "rules_from_megatron", "rules_from_torch"]


def path_name(path: Sequence[Any]) -> str:
    """``/``-joined keys of a ``jax.tree_util`` key path."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def _as_schedule(fn: str, name: str, value: Any) -> Schedule | None:
    if value is None or isinstance(value, Schedule):
        return value
    if callable(value):
        return Schedule(value, name=getattr(value, "__name__", name))
    v = check.nonneg(fn, name, value)
    return Schedule(lambda k: jnp.full(jnp.shape(k), v, jnp.result_type(float)),
                    name="constant", params=dict(value=v))


def lr_mult_power(schedule: Any) -> int:
    """How often a weight-decay schedule carries the lr: ``+1`` for
    ``decoupled_from_coupled`` (``lr wd``), ``-1`` for ``coupled_from_decoupled``
    (``wd' / lr``), summed through nested conversions; 0 for any other. ``grouped`` scales a
    leaf's decay by its lr multiplier ``m`` to that power, so that a conversion stays the
    same run for every param group, layer-wise lr multipliers included."""
    params = getattr(schedule, "params", None)
    return int(params.get("lr_mult_power", 0)) if isinstance(params, dict) else 0


@dataclass(frozen=True)
class Rule:
    """One param group: the leaves whose path matches ``pattern`` (first match wins).

    ``lr`` / ``weight_decay``: this group's schedule (a ``Schedule``, any function of the
    count, or a constant), overriding ``grouped``'s; ``lr_mult`` / ``wd_mult`` multiply them;
    ``decay=False`` masks weight decay (biases, norms)."""

    pattern: str | Callable[[str, Any], bool]
    lr_mult: float = 1.0
    wd_mult: float = 1.0
    decay: bool = True
    lr: Any = None
    weight_decay: Any = None
    name: str | None = None

    def matches(self, path: str, leaf: Any) -> bool:
        if callable(self.pattern):
            return bool(self.pattern(path, leaf))
        return re.search(self.pattern, path) is not None


class Groups(NamedTuple):
    """Per-leaf assignment (static): the group index, lr and wd multipliers, and the rules."""

    treedef: Any
    paths: tuple[str, ...]
    group: tuple[int, ...]
    lr_mult: tuple[float, ...]
    wd_mult: tuple[float, ...]
    rules: tuple[Rule, ...]

    def table(self) -> list[tuple[str, str, float, float]]:
        """``(path, group name, lr multiplier, wd multiplier)`` per leaf, for a look."""
        names = [r.name or (r.pattern if isinstance(r.pattern, str) else f"rule {i}")
                 for i, r in enumerate(self.rules)]
        return [(p, names[g], m, w) for p, g, m, w in
                zip(self.paths, self.group, self.lr_mult, self.wd_mult, strict=True)]


def layerwise(decay: float, num_layers: int, layer_of: Callable[[str], int | None]
              ) -> Callable[[str], float]:
    """Layer-wise lr decay (BEiT / ELECTRA fine-tuning): a leaf in layer ``l`` (0 = the
    embeddings, ``num_layers`` = the head; ``layer_of(path)``, ``None`` for the head) gets
    ``decay ** (num_layers - l)``."""
    fn = "jaxsched.layerwise"
    d = check.unit(fn, "decay", decay, " (a decay above 1 would raise lower layers' lr)")
    n = check.integer(fn, "num_layers", num_layers, minimum=0)

    def factor(path: str) -> float:
        layer = layer_of(path)
        layer = n if layer is None else check.integer(fn, f"layer_of({path!r})", layer,
                                                      minimum=0, maximum=n)
        return d ** (n - layer)

    return factor


def param_groups(params: Any, rules: Sequence[Rule] = (), *,
                 layer_decay: Callable[[str], float] | None = None) -> Groups:
    """Assigns every leaf of ``params`` to the first rule its path matches (a last rule
    matching everything is added: the default group).

    Example:
        >>> import jax.numpy as jnp, jaxsched
        >>> params = {"dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.zeros(2)}}
        >>> g = jaxsched.param_groups(params, [jaxsched.Rule(r"bias$", decay=False)])
        >>> g.table()
        [('dense/bias', 'bias$', 1.0, 0.0), ('dense/kernel', 'default', 1.0, 1.0)]
    """
    fn = "jaxsched.param_groups"
    rules = (*rules, Rule(".*", name="default"))
    for i, r in enumerate(rules):
        if not isinstance(r, Rule):
            raise TypeError(f"{fn}: rules[{i}] must be a jaxsched.Rule, got {r!r}")
        if isinstance(r.pattern, str):
            try:
                re.compile(r.pattern)
            except re.error as err:
                raise ValueError(f"{fn}: rules[{i}].pattern {r.pattern!r} is no regex: "
                                 f"{err}") from None
        check.nonneg(fn, f"rules[{i}].lr_mult", r.lr_mult)
        check.nonneg(fn, f"rules[{i}].wd_mult", r.wd_mult)
        check.boolean(fn, f"rules[{i}].decay", r.decay)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not leaves:
        raise ValueError(f"{fn}: params has no leaves")
    paths, group, lr_mult, wd_mult = [], [], [], []
    for path, leaf in leaves:
        name = path_name(path)
        g = next(i for i, r in enumerate(rules) if r.matches(name, leaf))
        factor = 1.0 if layer_decay is None else layer_decay(name)
        paths.append(name)
        group.append(g)
        lr_mult.append(rules[g].lr_mult * factor)
        wd_mult.append(rules[g].wd_mult if rules[g].decay else 0.0)
    return Groups(treedef, tuple(paths), tuple(group), tuple(lr_mult), tuple(wd_mult), rules)


class GroupedState(NamedTuple):
    """``grouped``'s state: the count, and per rule the lr (before the leaves' layer-wise
    factors and ``lr_mult``) and the weight decay (``wd_mult`` and mask applied) that the
    most recent update used (``jaxsched.hyperparams`` reads them). ``count`` is an int32
    (saturating at 2**31-1, as optax's) or, with ``wide_count=True``, a ``WideCount``."""

    count: Any
    learning_rate: jax.Array
    weight_decay: jax.Array


def grouped(direction: optax.GradientTransformation, groups: Groups, lr: Any,
            weight_decay: Any = 0.0, *, decoupled: bool = False, wide_count: bool = False
            ) -> optax.GradientTransformation:
    """``direction`` (e.g. ``optax.scale_by_adam()``) then the per-group lr and weight decay
    of ``groups`` (module docstring): torch's param groups as one transform.

    Each distinct schedule is evaluated once per step; a leaf's multipliers are static.

    Args:
        direction: the update direction (any optax transform; ``optax.identity()`` for SGD).
        groups: from ``param_groups`` on params of the structure this optimizer will see.
        lr, weight_decay: the default schedules (a ``Schedule``, a function of the count, or
            a constant) for rules that set none.
        decoupled: decay not scaled by the lr (``-wd p``) instead of torch AdamW's coupled
            ``-lr wd p``.
        wide_count: count in a ``jaxsched.WideCount`` (two uint32 limbs, exact to 2**63-1
            without x64: each schedule's formula at the exact int64 count; CPU / GPU) instead
            of an int32 that saturates at 2**31-1.

    Returns:
        An ``optax.GradientTransformation``; its ``init`` refuses params of another structure.

    Example:
        >>> import jax.numpy as jnp, optax, jaxsched
        >>> params = {"w": jnp.ones(2), "b": jnp.ones(2)}
        >>> g = jaxsched.param_groups(params, [jaxsched.Rule("b", decay=False)])
        >>> tx = jaxsched.grouped(optax.identity(), g, lr=0.1, weight_decay=0.5)
        >>> u, _ = tx.update({"w": jnp.zeros(2), "b": jnp.zeros(2)}, tx.init(params), params)
        >>> [round(float(u["b"][0]), 6), round(float(u["w"][0]), 6)]  # b: no decay
        [-0.0, -0.05]
    """
    fn = "jaxsched.grouped"
    if not isinstance(groups, Groups):
        raise TypeError(f"{fn}: groups must come from jaxsched.param_groups, got {groups!r}")
    decoupled = check.boolean(fn, "decoupled", decoupled)
    wide_count = check.boolean(fn, "wide_count", wide_count)
    default_lr = _as_schedule(fn, "lr", lr)
    default_wd = _as_schedule(fn, "weight_decay", weight_decay)
    used = set(groups.group)
    unused = _as_schedule(fn, "unused", 0.0)  # a rule no leaf matched: never applied
    lrs, wds = [], []
    for i, r in enumerate(groups.rules):
        lr_i = _as_schedule(fn, f"rule {i} lr", r.lr) or default_lr
        wd_i = _as_schedule(fn, f"rule {i} weight_decay", r.weight_decay) or default_wd
        if i in used and (lr_i is None or wd_i is None):
            raise ValueError(f"{fn}: rule {i} ({r.name or r.pattern!r}) matches parameters "
                             f"but sets no {'lr' if lr_i is None else 'weight_decay'} and "
                             f"grouped got none")
        lrs.append(lr_i or unused)
        wds.append(wd_i or unused)
    distinct: list[Schedule] = []
    for s in lrs + wds:
        if not any(s is d for d in distinct):
            distinct.append(s)
    lr_at = [next(j for j, d in enumerate(distinct) if d is s) for s in lrs]
    wd_at = [next(j for j, d in enumerate(distinct) if d is s) for s in wds]

    # per rule, what hyperparams reports: the weight decay with the rule's multiplier and
    # mask (the lr without the leaves' layer-wise factors)
    rule_wd = jnp.asarray([r.wd_mult if r.decay else 0.0 for r in groups.rules],
                          jnp.result_type(float))

    powers = [lr_mult_power(s) for s in wds]  # converted decays carry the lr's multiplier

    def values(count: jax.Array) -> tuple[jax.Array, jax.Array]:
        v = [jnp.asarray(d(count), jnp.result_type(float)) for d in distinct]
        return jnp.stack([v[j] for j in lr_at]), jnp.stack([v[j] for j in wd_at])

    def init_fn(params: Any) -> Any:
        if jax.tree.structure(params) != groups.treedef:
            raise ValueError(f"{fn}: params have another structure than the one "
                             f"param_groups saw: {jax.tree.structure(params)} vs "
                             f"{groups.treedef}")
        count = WideCount.zeros() if wide_count else jnp.zeros((), jnp.int32)
        lr0, wd0 = values(count)
        return (direction.init(params), GroupedState(count, lr0, wd0 * rule_wd))

    def update_fn(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        inner, own = state
        updates, inner = direction.update(updates, inner, params)
        lr_now, wd_now = values(WideCount(*own.count) if wide_count else own.count)
        leaves, treedef = jax.tree.flatten(updates)
        p_leaves = jax.tree.leaves(params) if params is not None else [None] * len(leaves)
        out = []
        for u, p, g, m, w in zip(leaves, p_leaves, groups.group, groups.lr_mult,
                                 groups.wd_mult, strict=True):
            step = lr_now[g] * m if m != 1.0 else lr_now[g]
            w = _decay_mult(w, m, powers[g])
            if w and p is None:
                raise ValueError(f"{fn}: weight decay needs params in update(...)")
            if w and not decoupled:
                u = u + (wd_now[g] * w if w != 1.0 else wd_now[g]).astype(u.dtype) * p
            u = -step.astype(u.dtype) * u
            if w and decoupled:
                u = u - (wd_now[g] * w).astype(u.dtype) * p
            out.append(u)
        if wide_count:
            count = WideCount(*own.count).add(1)
        else:
            count = optax.safe_increment(own.count)  # saturates at 2**31-1, as optax's
        return (jax.tree.unflatten(treedef, out),
                (inner, GroupedState(count, lr_now, wd_now * rule_wd)))

    return optax.GradientTransformation(init_fn, update_fn)


def _decay_mult(w: float, m: float, power: int) -> float:
    """A leaf's weight-decay multiplier ``w m**power`` (``lr_mult_power``); 0 for a leaf
    whose lr multiplier is 0 and a decay divided by the lr (it cannot act there)."""
    if power == 0 or not w:
        return w
    return 0.0 if m == 0.0 else w * m ** power


def rules_from_torch(optimizer: Any, named_parameters: Any,
                     schedule_for: Callable[[float], Any] | None = None) -> list[Rule]:
    """One ``Rule`` per torch param group (exact parameter names, ``.`` turned into ``/``),
    with the group's ``weight_decay`` and, through ``schedule_for(group_lr)``, its lr
    schedule (a constant lr without it): a torch scheduler scales every group's own lr, so
    building each group's schedule from its lr reproduces torch exactly."""
    names = {id(p): n for n, p in named_parameters}
    rules = []
    for i, group in enumerate(optimizer.param_groups):
        members = [names[id(p)].replace(".", "/") for p in group["params"] if id(p) in names]
        lr = group.get("initial_lr", group["lr"])
        pattern = "^(" + "|".join(re.escape(m) for m in members) + ")$"
        rules.append(Rule(pattern, lr=schedule_for(lr) if schedule_for else lr,
                          weight_decay=group.get("weight_decay", 0.0), name=f"group {i}"))
    return rules


def rules_from_megatron(scheduler: Any, patterns: Sequence[str | Callable[[str, Any], bool]]
                        ) -> list[Rule]:
    """One ``Rule`` per param group of a ``jaxsched.megatron.OptimizerParamScheduler`` (its
    per-group ``max_lr`` / ``min_lr`` schedule, and its weight-decay schedule times
    ``wd_mult``), matched by ``patterns[g]``. Megatron's count is ``num_steps``: drive the
    optimizer with its clock (``jaxsched.samples_clock``) when it counts samples."""
    if len(patterns) != len(scheduler.schedules):
        raise ValueError(f"jaxsched.rules_from_megatron: {len(scheduler.schedules)} groups, "
                         f"{len(patterns)} patterns")
    return [Rule(p, lr=s, weight_decay=w, wd_mult=m, name=f"group {g}")
            for g, (p, s, w, m) in enumerate(zip(patterns, scheduler.schedules,
                                                 scheduler._wds, scheduler._wd_mults,
                                                 strict=True))]
