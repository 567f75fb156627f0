"""Wide counts over 8 devices: run as a script (XLA_FLAGS must be set before jax loads).

    python tests/wide_multidevice_check.py

Without x64, a data-parallel jitted step over a batch sharded on 8 (fake CPU) devices with
``jaxsched.scheduled(..., wide_count=True)`` and ``jaxsched.grouped(..., wide_count=True)``
counting across 2**32: the lr is the same on every device, equal to the x64 schedule at the
int64 count cast to float32; the state's leaves keep their sharding, committedness, dtype and
weak type; the step compiles once.
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")

import jax
import jax.numpy as jnp
import numpy as np
import optax
from multidevice_check import leaf_traits, least_squares_step, mesh_and_batch, replicated_value

import jaxsched
from jaxsched import WideCount

STEPS = 6
START = 2**32 - 3


def x64_value(s, k: int) -> float:
    with jax.enable_x64(True):
        return float(np.float32(s(np.int64(k))))


def main() -> None:
    assert not jax.config.jax_enable_x64
    _, batch, repl, x, y = mesh_and_batch(8)
    params0 = {"w": jax.device_put(jnp.zeros(8), batch), "b": jax.device_put(jnp.zeros(()), repl)}
    s = jaxsched.cosine_annealing_lr(2**31 - 1, eta_min=0.001, lr=0.1)

    def run(opt, state, read):
        traces = {"n": 0}
        step = least_squares_step(opt, traces)

        p = params0
        p, state = step(p, state, x, y)
        before = leaf_traits(state)
        for k in range(1, STEPS):
            p, state = step(p, state, x, y)
            jax.block_until_ready(p)  # a sync every step: XLA:CPU collectives on 2 cores
            assert leaf_traits(state) == before, (before, leaf_traits(state))
            lr = replicated_value(read(state))
            assert lr == x64_value(s, START + k), (k, lr, x64_value(s, START + k))
        assert p["w"].sharding == params0["w"].sharding
        assert traces["n"] == 1, traces
        return state

    opt = jaxsched.scheduled(optax.sgd, s, wide_count=True)
    state = opt.init(params0)
    state = state._replace(hyperparams_states={"learning_rate": WideCount.of(START)})
    state = jax.device_put(state, repl)
    state = run(opt, state, lambda st: st.hyperparams["learning_rate"])
    assert int(state.hyperparams_states["learning_rate"]) == START + STEPS
    print("scheduled(wide_count=True): lr replicated, exact across 2**32, traits kept, 1 trace")

    g = jaxsched.param_groups(params0, [jaxsched.Rule("b", decay=False)])
    opt = jaxsched.grouped(optax.identity(), g, lr=s, wide_count=True)
    inner, own = opt.init(params0)
    state = jax.device_put((inner, own._replace(count=WideCount.of(START))), repl)
    state = run(opt, state, lambda st: st[1].learning_rate[0])
    assert int(state[1].count) == START + STEPS
    print("grouped(wide_count=True): lr replicated, exact across 2**32, traits kept, 1 trace")
    print("ALL OK")


if __name__ == "__main__":
    main()
