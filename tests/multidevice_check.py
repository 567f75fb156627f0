"""Data parallel over 8 devices: run as a script (XLA_FLAGS must be set before jax loads).

    python tests/multidevice_check.py

A jitted train step over a batch sharded on 8 (fake CPU) devices, three ways: a pure
schedule inside the optimizer, an adapter writing the lr between steps, and the in-graph
plateau transform fed the loss averaged across devices. Each checks that the lr is the same
on every device, equals the single-device curve, and that the step compiles once. The same
code runs on GPU/TPU pods after ``jax.distributed.initialize()``: the mesh then spans every
host's devices and each host feeds its slice of the batch.
"""

from __future__ import annotations

import os

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=8")

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxsched

STEPS = 30


def replicated_value(x: jax.Array) -> float:
    """The value of a replicated scalar, after checking every device holds the same."""
    shards = [np.asarray(s.data) for s in x.addressable_shards]
    assert len(shards) == 8, len(shards)
    assert all(np.array_equal(shards[0], s) for s in shards), shards
    return float(shards[0])


def mesh_and_batch(features: int) -> tuple[Mesh, NamedSharding, NamedSharding, jax.Array,
                                            jax.Array]:
    """On 8 devices: the mesh, its data-parallel and replicated shardings, and a
    least-squares batch of 64 rows of ``features`` (seed 0), sharded by rows."""
    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("data",))
    batch, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.normal(size=(64, features)).astype(np.float32), batch)
    y = jax.device_put(rng.normal(size=(64,)).astype(np.float32), batch)
    return mesh, batch, repl, x, y


def main() -> None:
    mesh, batch, repl, x, y = mesh_and_batch(4)
    params0 = jax.device_put({"w": jnp.zeros(4), "b": jnp.zeros(())}, repl)

    def loss_fn(p, x, y):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)  # a mean over all 8 shards

    traces = {"n": 0}

    def make_step(opt):
        @jax.jit
        def step(p, state, x, y):
            traces["n"] += 1
            loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
            updates, state = opt.update(grads, state, p, value=loss)
            return optax.apply_updates(p, updates), state, loss
        return step

    # 1. a pure schedule inside the optimizer
    s = jaxsched.one_cycle_lr(0.1, total_steps=STEPS)
    opt = jaxsched.scheduled(optax.sgd, s)
    step = make_step(opt)
    p, state = params0, jax.device_put(opt.init(params0), repl)
    for k in range(STEPS):
        p, state, _ = step(p, state, x, y)
        assert abs(replicated_value(state.hyperparams["learning_rate"]) - float(s(k))) <= 2e-7
        assert abs(replicated_value(state.hyperparams["momentum"]) - float(s.momentum(k))) <= 2e-6
    assert traces["n"] == 1, traces
    print("pure schedule: lr replicated, equal to the curve, 1 trace")

    # 2. the adapter writing the lr between steps
    traces["n"] = 0
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.0)
    sched = jaxsched.CosineAnnealingWarmRestarts(0.1, T_0=4, T_mult=2)
    step = make_step(opt)
    p, state = params0, jax.device_put(opt.init(params0), repl)
    for _ in range(STEPS):
        state = sched.apply(state)
        assert state.hyperparams["learning_rate"].sharding == repl
        p, state, _ = step(p, state, x, y)
        assert abs(replicated_value(state.hyperparams["learning_rate"])
                   - sched.get_last_lr()[0]) <= 2e-7
        sched.step()
    assert traces["n"] == 1, traces
    print("adapter: lr replicated, equal to the adapter, 1 trace")

    # 3. the plateau transform fed the loss averaged across devices
    traces["n"] = 0
    opt = optax.chain(optax.scale_by_adam(), jaxsched.reduce_lr_on_plateau(0.3, patience=1,
                                                                           factor=0.5))
    step = make_step(opt)
    p, state = params0, jax.device_put(opt.init(params0), repl)
    host = jaxsched.ReduceLROnPlateau(0.3, patience=1, factor=0.5)
    for _ in range(STEPS):
        p, state, loss = step(p, state, x, y)
        host.step(replicated_value(loss))  # the same metric, through the adapter
        assert abs(replicated_value(state[1].plateau.lr) - host.get_last_lr()[0]) <= 2e-7
    assert traces["n"] == 1, traces
    assert host.get_last_lr()[0] < 0.3  # it did cut
    print("plateau: lr replicated, equal to the adapter on the same metrics, 1 trace")
    sharded_params(mesh, batch, repl)
    host_evaluation_ignores_the_default_device()
    print("ALL OK")


def leaf_traits(tree):
    return [(x.sharding, x.committed, x.dtype, x.weak_type) for x in jax.tree.leaves(tree)]


def least_squares_step(opt, traces):
    """A jitted data-parallel step of ``opt`` on ``mean((x w + b - y)**2)`` (a mean over
    every shard), counting its traces in ``traces["n"]``."""
    @jax.jit
    def step(p, state, x, y):
        traces["n"] += 1
        grads = jax.grad(lambda p: jnp.mean((x @ p["w"] + p["b"] - y) ** 2))(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state
    return step


def sharded_params(mesh, batch, repl) -> None:
    """Params sharded over the mesh; the opt state as init makes it (hyperparameters
    uncommitted) and replicated: apply keeps every leaf's sharding, committedness, dtype and
    weak type, and the data-parallel step compiles once."""
    rng = np.random.default_rng(1)
    x = jax.device_put(rng.normal(size=(64, 16)).astype(np.float32), batch)
    y = jax.device_put(rng.normal(size=(64,)).astype(np.float32), batch)
    params = {"w": jax.device_put(jnp.zeros(16), NamedSharding(mesh, P("data"))),
              "b": jax.device_put(jnp.zeros(()), repl)}
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    traces = {"n": 0}
    step = least_squares_step(opt, traces)

    for placement in ("as init makes it", "replicated"):
        traces["n"] = 0
        state = opt.init(params)
        if placement == "replicated":
            state = state._replace(hyperparams=jax.device_put(state.hyperparams, repl))
        sched = jaxsched.OneCycleLR(state, max_lr=0.1, total_steps=STEPS)
        assert sched.base_lrs == [0.1 / 25], sched.base_lrs  # 0.1, not float32(0.1)
        p = params
        for k in range(STEPS):
            if k == 2:  # the first inputs come from init, later ones from the step: settled
                settled = traces["n"]
            before = leaf_traits(state.hyperparams)
            state = sched.apply(state)
            assert leaf_traits(state.hyperparams) == before, (placement, before,
                                                              leaf_traits(state.hyperparams))
            p, state = step(p, state, x, y)
            jax.block_until_ready(p)  # never a queue of collectives: XLA:CPU deadlocks on 2 cores
            sched.step()
        assert p["w"].sharding == params["w"].sharding
        assert traces["n"] == settled, traces  # apply never causes a retrace
        print(f"sharded params, hyperparameters {placement}: apply keeps every leaf's "
              f"sharding, committedness, dtype and weak type; no retrace")


def host_evaluation_ignores_the_default_device() -> None:
    """With another default device, the adapters still evaluate on the host CPU device."""
    cpu = jaxsched.core.adapter.host_cpu()
    other = jax.devices()[5]
    with jax.default_device(other):
        assert jnp.zeros(()).devices() == {other}
        sched = jaxsched.CosineAnnealingLR(0.1, T_max=10)
        sched.step()
        lrs, _ = sched._device_values()
        assert lrs.devices() == {cpu}, lrs.devices()
        plateau = jaxsched.ReduceLROnPlateau(0.1, patience=0)
        plateau.step(1.0)
        plateau.step(jax.device_put(jnp.float32(2.0), other))  # a metric on another device
        assert plateau._state.lr.devices() == {cpu}
        assert abs(plateau.get_last_lr()[0] - 0.01) < 1e-15
    print("host-side evaluation on the CPU device whatever the default device")


if __name__ == "__main__":
    main()
