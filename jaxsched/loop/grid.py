"""``grid_search``: K learning rates or K schedules trained side by side in one compiled run.

Every candidate starts from the same params and sees the same batches; the candidates are a
``vmap`` axis inside one ``jax.jit``-compiled ``lax.scan`` (split over a device mesh when
several devices are given, and run in equal chunks when K does not fit a memory budget).
A candidate's lr is, at optax count ``c``:

- constants ``lrs=[a_1 .. a_K]``: ``a_k``;
- a multiplier on one schedule ``schedules=s, lrs=[a_k]``: ``a_k * s(c)``;
- K schedules of any origin ``schedules=[s_1 .. s_K]``: ``s_k(c)``, chosen per candidate
  with ``lax.switch`` (each schedule as built; nothing is re-derived);
- with ``plateau={...}`` (``jaxsched.reduce_lr_on_plateau``'s settings) the above times the
  candidate's own plateau state (started at ``a_k``, or 1 for K schedules, so a constant
  candidate's lr *is* the plateau lr, and a schedule's is scaled like torch's chained
  ``StepLR`` + ``ReduceLROnPlateau``), stepped every ``eval_every`` updates on that
  candidate's validation loss (or its mean train loss over the last ``eval_every`` updates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsched.core import checks as check
from jaxsched.core.plateau import reduce_lr_on_plateau
from jaxsched.loop.grid_result import GridResult
from jaxsched.loop.monitor import hyperparams

__all__ = ["GridResult", "grid_search"]

FN = "jaxsched.grid_search"
AXIS = "candidates"


def _name(s: Any, k: int) -> str:
    return getattr(s, "__name__", None) or type(s).__name__ or f"schedule {k}"


def _candidates(lrs: Any, schedules: Any, names: Any
                ) -> tuple[list[float], list[Callable], np.ndarray, list[str]]:
    """(scales, distinct base schedules, branch index per candidate, names)."""
    if lrs is None and schedules is None:
        raise ValueError(f"{FN}: give the candidates as lrs=[...] (constants, or multipliers "
                         f"with one schedule) or schedules=[...], got neither")
    if lrs is not None:
        if isinstance(lrs, (str, bytes)) or not isinstance(lrs, (Sequence, np.ndarray)):
            raise TypeError(f"{FN}: lrs must be a sequence of numbers, got {lrs!r}")
        lrs = [check.nonneg(FN, f"lrs[{k}]", a) for k, a in enumerate(lrs)]
    if callable(schedules):
        schedules = [schedules]
        single = True
    else:
        single = False
        if schedules is not None and (isinstance(schedules, (str, bytes))
                                      or not isinstance(schedules, Sequence)):
            raise TypeError(f"{FN}: schedules must be a schedule or a sequence of schedules "
                            f"(callables count -> lr), got {schedules!r}")
        for k, s in enumerate(schedules or []):
            if not callable(s):
                raise TypeError(f"{FN}: schedules[{k}] must be callable (count -> lr), "
                                f"got {s!r}")
    if schedules is not None and not single and lrs is not None:
        raise ValueError(f"{FN}: give lrs with at most one schedule (multipliers on it), or "
                         f"K schedules without lrs; got {len(lrs)} lrs and {len(schedules)} "
                         f"schedules")
    if schedules is None:  # constants
        scales, bases, index = lrs, [None], np.zeros(len(lrs), np.int32)
        default = [f"lr={a:g}" for a in lrs]
    elif single:
        if lrs is None:
            lrs = [1.0]
        scales, bases, index = lrs, schedules, np.zeros(len(lrs), np.int32)
        default = [f"{a:g} x {_name(schedules[0], 0)}" for a in lrs]
    else:
        scales, bases = [1.0] * len(schedules), list(schedules)
        index = np.arange(len(schedules), dtype=np.int32)
        default = [_name(s, k) for k, s in enumerate(schedules)]
    if not scales:
        raise ValueError(f"{FN}: the grid is empty (lrs={lrs!r}, schedules={schedules!r}); "
                         f"give at least one candidate")
    if names is None:
        names = default
    else:
        names = [str(x) for x in names]
        if len(names) != len(scales):
            raise ValueError(f"{FN}: names has {len(names)} entries for {len(scales)} "
                             f"candidates")
    return scales, bases, index, names


def _devices(devices: Any) -> list[Any]:
    if devices is None:
        return list(jax.devices())
    if isinstance(devices, int) and not isinstance(devices, bool):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"{FN}: devices={devices} but {len(available)} are available")
        return list(available[:devices])
    devices = list(devices)
    if not devices:
        raise ValueError(f"{FN}: devices is empty; give None (all), a count or a list")
    return devices


def _nbytes(tree: Any) -> int:
    return sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize
               for x in jax.tree.leaves(tree))


def grid_search(
    loss_fn: Callable[[Any, Any], jax.Array],
    params: Any,
    batches: Any,
    optimizer: Callable[..., optax.GradientTransformation] = optax.sgd,
    *,
    num_steps: int,
    lrs: Sequence[float] | None = None,
    schedules: Any = None,
    names: Sequence[str] | None = None,
    val_fn: Callable[[Any], jax.Array] | None = None,
    eval_every: int | None = None,
    plateau: Mapping[str, Any] | None = None,
    plateau_on: Sequence[int] | None = None,
    devices: Any = None,
    memory_budget: int | None = None,
    sync_every: int = 25,
) -> GridResult:
    """Trains K candidates (lrs or schedules) side by side; one compilation for the grid.

    Update ``i`` of every candidate uses batch ``i mod B``; the train loss recorded for
    step ``i`` is that batch's loss before the update; the lr recorded is the one the update
    used, read from the optimizer state with ``jaxsched.hyperparams``. The validation loss
    ``val_fn(params)`` is measured after every ``eval_every``-th update and after the last.

    Exactness: a candidate's lr is exactly its schedule's value. On CPU in float32 its
    trajectory is bitwise the lone optax run's when the gradient has no sum over the batch;
    with one (a bias), XLA:CPU vectorises the batched reduction in another order, so the
    gradients differ in the last bits (stable runs: within 1e-5 relative over 40 steps,
    ``tests/test_grid.py``).

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``, differentiable in ``params``.
        params: the initial parameters (a pytree), shared by every candidate; not modified.
        batches: a pytree whose leaves have a leading axis of ``B`` batches (as
            ``jaxsched.find_lr`` takes them).
        optimizer: an optax optimizer factory taking the lr (a schedule) first, e.g.
            ``optax.adam`` or ``functools.partial(optax.sgd, momentum=0.9)``.
        num_steps: the number of updates per candidate, >= 1.
        lrs: K constant lrs, or with one schedule K multipliers on it.
        schedules: one schedule (with ``lrs``) or K schedules (without), any callables
            ``count -> lr`` (jaxsched, optax, ...).
        names: K labels for the table and the figure (default: from the candidates).
        val_fn: ``val_fn(params) -> scalar``, optional.
        eval_every: updates between validations and plateau steps (default ``B``, an epoch).
        plateau: settings of ``jaxsched.reduce_lr_on_plateau`` other than ``lr`` (e.g.
            ``{"patience": 2, "factor": 0.5}``): each candidate gets its own plateau state.
        plateau_on: the indices of the candidates the plateau applies to (default: all);
            e.g. a StepLR candidate with a plateau (the combination) next to plain ones.
        devices: ``None`` (all devices of the default backend), a count, or a list: the
            candidates are split over a mesh axis ``"candidates"`` of these devices.
        memory_budget: bytes available for the candidates' training state; the grid runs in
            chunks of ``C`` candidates, ``C = budget // (3 * (params + optimizer state) +
            params)`` bytes (state, gradients and updates, plus the shared params),
            rounded down to a multiple of the device count (at least one per device).
            Default: all K at once.
        sync_every: updates per compiled call; the host reads a value back between calls
            (XLA:CPU with several devices deadlocks without one every ~30 steps), in [1, 30].

    Returns:
        A ``GridResult``: curves, final losses, the best candidate, ``table()``, ``plot()``.

    Raises:
        TypeError, ValueError: eagerly, on an empty grid, batches without a common leading
            axis, bad settings or counts.

    Example:
        >>> import jax.numpy as jnp, jaxsched
        >>> x = jnp.linspace(-1, 1, 32).reshape(4, 8)       # 4 batches of 8 points
        >>> loss = lambda w, b: jnp.mean((b * w - 3 * b) ** 2)
        >>> res = jaxsched.grid_search(loss, jnp.zeros(()), x, num_steps=20,
        ...                            lrs=[0.01, 0.1, 1.0])
        >>> res.names[res.best], res.losses.shape
        ('lr=1', (3, 20))
    """
    if not callable(loss_fn):
        raise TypeError(f"{FN}: loss_fn must be callable, got {loss_fn!r}")
    if not callable(optimizer):
        raise TypeError(f"{FN}: optimizer must be an optax optimizer factory such as "
                        f"optax.adam, got {optimizer!r}")
    if val_fn is not None and not callable(val_fn):
        raise TypeError(f"{FN}: val_fn must be callable or None, got {val_fn!r}")
    n = check.integer(FN, "num_steps", num_steps, minimum=1, maximum=10**8)
    scales, bases, index, names = _candidates(lrs, schedules, names)
    batches, n_batches = check.batches(FN, batches)
    every = n_batches if eval_every is None else check.integer(FN, "eval_every", eval_every,
                                                               minimum=1)
    sync = check.integer(FN, "sync_every", sync_every, minimum=1, maximum=30)
    if plateau is not None and not isinstance(plateau, Mapping):
        raise TypeError(f"{FN}: plateau must be a mapping of reduce_lr_on_plateau settings, "
                        f"got {plateau!r}")
    if plateau is not None and "lr" in plateau:
        raise ValueError(f"{FN}: plateau must not set lr (each candidate's lr starts it)")
    plateaus = None if plateau is None else [
        reduce_lr_on_plateau(a, **plateau) for a in scales]  # eager validation per candidate
    on = np.ones(len(scales), bool)
    if plateau_on is not None:
        if plateau is None:
            raise ValueError(f"{FN}: plateau_on={plateau_on!r} needs plateau settings")
        on[:] = False
        for j in plateau_on:
            j = check.integer(FN, "plateau_on[...]", j, minimum=0, maximum=len(scales) - 1)
            on[j] = True
    devs = _devices(devices)
    k_total = len(scales)
    run = _Program(loss_fn, optimizer, bases, batches, n_batches, n, every, sync, val_fn,
                   plateaus, devs)
    chunk = run.chunk_size(params, k_total, memory_budget)
    out = [run(params, scales[a: a + chunk], index[a: a + chunk], on[a: a + chunk], plateaus,
               a, chunk)
           for a in range(0, k_total, chunk)]
    losses, lr_used, vals = (np.concatenate([o[j] for o in out]) for j in range(3))
    val_steps = np.asarray([i + 1 for i in range(n) if (i + 1) % every == 0 or i == n - 1])
    return GridResult.build(names=names, losses=losses, lrs=lr_used,
                            val_steps=val_steps if val_fn is not None else None,
                            val_losses=vals[:, val_steps - 1] if val_fn is not None else None,
                            chunk_size=chunk, n_devices=len(devs), traces=run.traces)


class _Program:
    """The compiled grid: ``init`` and ``segment`` (``sync`` updates of every candidate)."""

    def __init__(self, loss_fn, optimizer, bases, batches, n_batches, n, every, sync, val_fn,
                 plateaus, devices):
        self.n, self.sync, self.devices, self.traces = n, sync, devices, 0
        self.plateaus = plateaus
        grad_fn = jax.value_and_grad(loss_fn)
        tx_plateau = None if plateaus is None else plateaus[0]  # same update for all

        if all(b is None for b in bases):
            def base(idx, c):
                del idx, c
                return 1.0
        else:
            dtype = jnp.result_type(*[jax.eval_shape(b, jnp.int32(0)).dtype for b in bases])
            branches = [lambda c, b=b: jnp.asarray(b(c), dtype) for b in bases]

            def base(idx, c):
                return branches[0](c) if len(branches) == 1 else jax.lax.switch(
                    idx, branches, c)

        def make_tx(cand, pstate):
            scale, idx, _ = cand
            mult = scale if pstate is None else pstate.plateau.lr
            lr_fn = lambda c: mult * base(idx, c)  # noqa: E731
            return optimizer(lr_fn), lr_fn

        def init(p, cand, pstate):
            tx, _ = make_tx(cand, pstate)
            return p, tx.init(p), pstate, jnp.zeros((), jnp.float32)

        def step(carry, cand, i):
            p, opt_state, pstate, acc = carry
            b = jax.tree.map(lambda x: x[i % n_batches], batches)
            loss, grads = grad_fn(p, b)
            loss = jnp.asarray(loss, jnp.float32)
            tx, lr_fn = make_tx(cand, pstate)
            updates, opt_state = tx.update(grads, opt_state, p)
            lr = jnp.asarray(hyperparams(opt_state, lr_fn)["learning_rate"], jnp.float32)
            p = optax.apply_updates(p, updates)
            ready = jnp.logical_or((i + 1) % every == 0, i == n - 1)
            val = jnp.float32(jnp.nan)
            if val_fn is not None:
                val = jax.lax.cond(ready, lambda q: jnp.asarray(val_fn(q), jnp.float32),
                                   lambda q: jnp.float32(jnp.nan), p)
            acc = acc + loss
            if tx_plateau is not None:
                metric = val if val_fn is not None else acc / jnp.float32(every)
                _, pstate = tx_plateau.update(jnp.zeros(()), pstate, value=metric,
                                              value_ready=((i + 1) % every == 0) & cand[2])
            acc = jnp.where(ready, jnp.float32(0), acc)
            return (p, opt_state, pstate, acc), (loss, lr, val)

        def segment(carry, cands, start):
            self.traces += 1

            def body(c, j):
                i = start + j
                nan = jnp.float32(jnp.nan)
                return jax.lax.cond(i < n, lambda c: step(c, cands, i),
                                    lambda c: (c, (nan, nan, nan)), c)

            return jax.lax.scan(body, carry, jnp.arange(sync, dtype=jnp.int32))

        self._init = jax.jit(jax.vmap(init, in_axes=(None, 0, 0)))
        self._segment = jax.jit(jax.vmap(segment, in_axes=(0, 0, None), out_axes=(0, 1)))
        self._init_one = init

    def chunk_size(self, params: Any, k: int, budget: Any) -> int:
        nd = len(self.devices)
        if budget is None:
            return k
        budget = check.integer(FN, "memory_budget", budget, minimum=1, maximum=2**62)
        pstate = None if self.plateaus is None else self.plateaus[0].init(params)
        shape = jax.eval_shape(self._init_one, params, (jnp.float32(1), jnp.int32(0), True),
                               pstate)
        per = 3 * _nbytes(shape) + _nbytes(params)
        fits = budget // per
        if fits < nd:
            raise ValueError(f"{FN}: memory_budget={budget} bytes holds {fits} candidates of "
                             f"{per} bytes each (3 x (params + optimizer state) + params); "
                             f"need at least one per device ({nd}): raise the budget")
        return min(k, fits // nd * nd)

    def __call__(self, params, scales, index, on, plateaus, first, chunk):
        k = len(scales)
        nd = len(self.devices)
        width = -(-chunk // nd) * nd
        pad = width - k  # padded with copies of the first candidate: one compiled shape
        scales_a = np.asarray(list(scales) + [scales[0]] * pad, jnp.result_type(float))
        index_a = np.asarray(list(index) + [index[0]] * pad, np.int32)
        on_a = np.asarray(list(on) + [on[0]] * pad, bool)
        pstates = None
        if plateaus is not None:
            mine = plateaus[first: first + k]
            mine = mine + [mine[0]] * pad
            pstates = jax.tree.map(lambda *xs: jnp.stack(xs),
                                   *[tx.init(params) for tx in mine])
        cands = (jnp.asarray(scales_a), jnp.asarray(index_a), jnp.asarray(on_a))
        if nd > 1:
            mesh = jax.sharding.Mesh(np.asarray(self.devices), (AXIS,))
            split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(AXIS))
            whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
            cands, pstates = jax.device_put((cands, pstates), split)
            params = jax.device_put(params, whole)
        carry = self._init(params, cands, pstates)
        parts = []
        for start in range(0, self.n, self.sync):
            carry, rec = self._segment(carry, cands, jnp.int32(start))
            parts.append(jax.device_get(rec))  # the host sync between calls
        loss, lr, val = (np.concatenate([p[j] for p in parts])[: self.n].T[:k]
                         for j in range(3))
        return loss, lr, val
