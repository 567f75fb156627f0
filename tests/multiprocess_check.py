"""Two processes, four CPU devices each, one 8-device mesh: run by ``test_multidevice.py``.

    python tests/multiprocess_check.py PROCESS_ID PORT CHECKPOINT_DIR

Each process runs the same data-parallel SGD loop (params sharded over all 8 devices, each
process feeding its own slice of the batch) with a ``jaxsched.OneCycleLR`` adapter writing
the lr between steps. Checked: the lr in the optimizer state is identical on every device of
every process and equal to the adapter's; an orbax checkpoint (params, opt state) plus the
adapter's ``state_dict`` saved mid-run and restored continues bit for bit.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4")

import jax

jax.config.update("jax_cpu_collectives_implementation", "gloo")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import orbax.checkpoint as ocp  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jaxsched  # noqa: E402

STEPS, SAVE_AT = 24, 10


def main(pid: int, port: int, ckpt: pathlib.Path) -> None:
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=pid)
    assert jax.process_count() == 2 and jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()), ("data",))
    batch, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    rng = np.random.default_rng(0)  # the same global data in both processes
    x_all = rng.normal(size=(64, 16)).astype(np.float32)
    y_all = rng.normal(size=(64,)).astype(np.float32)
    rows = slice(32 * pid, 32 * (pid + 1))  # each process feeds its half of the batch
    x = jax.make_array_from_process_local_data(batch, x_all[rows])
    y = jax.make_array_from_process_local_data(batch, y_all[rows])
    w_sharding = NamedSharding(mesh, P("data"))
    params0 = {"w": jax.make_array_from_process_local_data(
                   w_sharding, np.zeros(8, np.float32)),
               "b": jax.make_array_from_process_local_data(repl, np.zeros((), np.float32))}
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)

    @jax.jit
    def step(p, state, x, y):
        grads = jax.grad(lambda p: jnp.mean((x @ p["w"] + p["b"] - y) ** 2))(p)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state

    def lr_everywhere(state) -> float:
        """The lr on every device of every process, checked identical."""
        local = [float(s.data) for s in state.hyperparams["learning_rate"].addressable_shards]
        both = multihost_utils.process_allgather(np.asarray(local, np.float64))
        assert np.all(both == both.ravel()[0]), both
        return float(both.ravel()[0])

    def run(p, state, sched, start, stop, save=False):
        for k in range(start, stop):
            if save and k == SAVE_AT:
                with ocp.StandardCheckpointer() as checkpointer:
                    checkpointer.save(ckpt / "step", {"params": p, "opt_state": state})
                if pid == 0:
                    (ckpt / "sched.json").write_text(json.dumps(sched.state_dict()))
                multihost_utils.sync_global_devices("saved")
            state = sched.apply(state)
            assert abs(lr_everywhere(state) - sched.get_last_lr()[0]) <= 1e-8
            p, state = step(p, state, x, y)
            sched.step()
        return p, state

    def fresh():
        state = jax.device_put(opt.init(params0), repl)
        return state, jaxsched.OneCycleLR(state, max_lr=0.1, total_steps=STEPS)

    state, sched = fresh()
    assert sched.base_lrs == [0.1 / 25], sched.base_lrs
    p_full, _ = run(params0, state, sched, 0, STEPS, save=True)

    target, sched = fresh()
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(ckpt / "step", {"params": params0, "opt_state": target})
    sched.load_state_dict(json.loads((ckpt / "sched.json").read_text()))
    assert sched.last_epoch == SAVE_AT
    p_resumed, _ = run(restored["params"], restored["opt_state"], sched, SAVE_AT, STEPS)
    for key in ("w", "b"):
        a = multihost_utils.process_allgather(p_full[key], tiled=True)
        b = multihost_utils.process_allgather(p_resumed[key], tiled=True)
        assert np.array_equal(np.asarray(a), np.asarray(b)), (key, a, b)
    print(f"process {pid}: lr identical on 8 devices in 2 processes; orbax resume at step "
          f"{SAVE_AT} bit-exact; ALL OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3]))
