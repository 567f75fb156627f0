"""Weight decay on a schedule, and the conversion between its two conventions.

torch ``AdamW`` and optax ``adamw`` couple the decay to the lr: each step multiplies ``p`` by
``1 - lr(t) wd(t)``. Fully decoupled decay (Loshchilov & Hutter's ``eta_t lambda``, or a
decay that keeps its own schedule whatever the lr does) multiplies by ``1 - wd'(t)``. The
same run decays the same when ``wd'(t) = lr(t) wd(t)``: ``decoupled_from_coupled`` gives that
schedule, ``coupled_from_decoupled`` the inverse ``wd'(t) / lr(t)`` (0 where the lr is 0,
where a coupled decay cannot act; a decoupled one there has no coupled equivalent).

With param groups (``jaxsched.grouped``) a leaf's lr is ``m lr(t)`` (its lr multiplier
``m``: ``lr_mult`` times the layer-wise factor), so its coupled decay is ``m lr(t) wd(t)``:
each converted schedule records how often it carries the lr (``lr_mult_power``) and
``grouped`` applies the leaf's ``m`` that often, so the conversion is the same run for every
leaf, not only those with ``m = 1``.

Use them with ``jaxsched.grouped(..., weight_decay=w, decoupled=...)``, or with optax:
``optax.add_decayed_weights(w)`` before the lr scaling is coupled (optax's ``adamw``);
``optax.chain(optax.adam(lr), optax.add_decayed_weights(w'), optax.scale(-1.0))`` is not the
same (it decays after the Adam step and flips the direction): use ``decoupled_weight_decay``,
which subtracts ``wd'(t) p`` after the lr scaling.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.loop.groups import _as_schedule, lr_mult_power

__all__ = ["coupled_from_decoupled", "decoupled_from_coupled", "decoupled_weight_decay"]


@schedule_factory
def decoupled_from_coupled(weight_decay: Any, lr: Any) -> Schedule:
    """``wd'(t) = lr(t) wd(t)``: the decoupled decay of a coupled (torch AdamW) run.

    Example:
        >>> import jaxsched
        >>> w = jaxsched.decoupled_from_coupled(0.1, jaxsched.step_lr(10, 0.5, lr=1e-3))
        >>> [round(float(w(k)), 10) for k in (0, 10)]
        [0.0001, 5e-05]
    """
    fn = "jaxsched.decoupled_from_coupled"
    wd, s = _as_schedule(fn, "weight_decay", weight_decay), _as_schedule(fn, "lr", lr)
    return Schedule(lambda k: s(k) * wd(k), name=fn, params=dict(
        lr=s.name, wd=wd.name, lr_mult_power=lr_mult_power(wd) + 1))


@schedule_factory
def coupled_from_decoupled(weight_decay: Any, lr: Any) -> Schedule:
    """``wd(t) = wd'(t) / lr(t)`` (0 where ``lr(t) = 0``): the coupled decay that decays as
    the decoupled ``wd'`` does under the lr ``lr``.

    Example:
        >>> import jaxsched
        >>> w = jaxsched.coupled_from_decoupled(1e-4, jaxsched.step_lr(10, 0.5, lr=1e-3))
        >>> [round(float(w(k)), 6) for k in (0, 10)]
        [0.1, 0.2]
    """
    fn = "jaxsched.coupled_from_decoupled"
    wd, s = _as_schedule(fn, "weight_decay", weight_decay), _as_schedule(fn, "lr", lr)

    def value(k: jax.Array) -> jax.Array:
        rate = s(k)
        return jnp.where(rate > 0, wd(k) / jnp.where(rate > 0, rate, 1.0), 0.0)

    return Schedule(value, name=fn, params=dict(lr=s.name, wd=wd.name,
                                                lr_mult_power=lr_mult_power(wd) - 1))



class DecoupledDecayState(NamedTuple):
    count: jax.Array
    weight_decay: jax.Array  # the value the most recent update used


def decoupled_weight_decay(weight_decay: Any, mask: Any = None
                           ) -> optax.GradientTransformation:
    """Adds ``-wd'(t) p`` to the updates: place it *after* the lr scaling (``optax.chain(
    optax.adam(lr), jaxsched.decoupled_weight_decay(w))``) for a decay the lr does not
    scale. ``mask`` as in ``optax.masked`` (a pytree of bools or a function of params)."""
    fn = "jaxsched.decoupled_weight_decay"
    wd = _as_schedule(fn, "weight_decay", weight_decay)

    def init_fn(params: Any) -> DecoupledDecayState:
        del params
        count = jnp.zeros((), jnp.int32)
        return DecoupledDecayState(count, jnp.asarray(wd(count), jnp.result_type(float)))

    def update_fn(updates: Any, state: DecoupledDecayState, params: Any = None
                  ) -> tuple[Any, DecoupledDecayState]:
        if params is None:
            raise ValueError(f"{fn}: update needs params")
        rate = jnp.asarray(wd(state.count), jnp.result_type(float))
        updates = jax.tree.map(lambda u, p: u - rate.astype(u.dtype) * p, updates, params)
        count = optax.safe_increment(state.count)
        return updates, DecoupledDecayState(count, rate)

    tx = optax.GradientTransformation(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)
