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


def main() -> None:
    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("data",))
    batch, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.normal(size=(64, 4)).astype(np.float32), batch)
    y = jax.device_put(rng.normal(size=(64,)).astype(np.float32), batch)
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
    print("ALL OK")


if __name__ == "__main__":
    main()
