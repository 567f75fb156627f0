"""The pure schedules under jit, vmap and optax: one trace, exact integer stairs, defined
values at negative and saturated counts."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched

SCHEDULES = {
    "lr_range_test": lambda: jaxsched.lr_range_test(0.01, 7, 0.5, True),
    "one_cycle": lambda: jaxsched.one_cycle(0.01, 0.1, 0.1, 7, 9, 2, 3, 4),
    "warmup_lr": lambda: jaxsched.warmup_lr(0.0, 0.1, 10),
    "warmup_decay_lr": lambda: jaxsched.warmup_decay_lr(50, 0.0, 0.1, 10, "linear"),
    "warmup_cosine_lr": lambda: jaxsched.warmup_cosine_lr(50, 0.1, 10, lr=0.1),
}


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_defined_at_negative_and_saturated_counts(name, x64):
    with jax.enable_x64(x64):
        s = SCHEDULES[name]()
        counts = jnp.asarray([-(2**31), -5, -1, 0, 2**31 - 2, 2**31 - 1], dtype=jnp.int32)
        values = np.asarray(jax.jit(jax.vmap(s))(counts))
        assert np.all(np.isfinite(values))
        assert np.all(values[:3] == values[3])  # negative counts give the step-0 value
        assert values.dtype == (np.float64 if x64 else np.float32)
        if s.momentum is not None:
            moms = np.asarray(jax.jit(jax.vmap(s.momentum))(counts))
            assert np.all(np.isfinite(moms)) and np.all(moms[:3] == moms[3])


@pytest.mark.parametrize("name", SCHEDULES)
def test_float_counts_are_floored(name):
    s = SCHEDULES[name]()
    for k in (0, 1, 5, 11, 17):
        assert float(s(k + 0.75)) == float(s(k))


def test_staircase_is_exact_in_int32_near_the_top():
    """float32 cannot tell 2**31-1 from 2**31; the integer floor can."""
    s = jaxsched.lr_range_test(1.0, lr_range_test_step_size=2**30,
                               lr_range_test_staircase=True)
    assert float(s(2**31 - 1)) == 2.0  # floor((2**31-1) / 2**30) = 1
    assert float(s(2**30 - 1)) == 1.0
    assert float(s(2**30)) == 2.0


def test_one_cycle_stairs_exact_at_large_sizes():
    size = 2**29 + 1
    s = jaxsched.one_cycle(0.0, 1.0, cycle_first_step_size=size, cycle_first_stair_count=3)
    assert float(s(size)) == 1.0
    assert float(s(size - 1)) == pytest.approx(2 / 3)
    assert float(s(2 * size)) == 0.0


@pytest.mark.parametrize("name", SCHEDULES)
def test_one_trace_inside_optax(name):
    s = SCHEDULES[name]()
    opt = optax.sgd(learning_rate=s, momentum=0.9)
    params = {"w": jnp.ones(3)}
    state = opt.init(params)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        grads = jax.tree.map(jnp.ones_like, params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(30):
        params, state = step(params, state)


@pytest.mark.parametrize("name", SCHEDULES)
def test_inject_hyperparams_sees_the_schedule(name):
    s = SCHEDULES[name]()
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=s)
    params = jnp.zeros(2)
    state = opt.init(params)
    update = jax.jit(opt.update)
    for k in range(25):
        _, state = update(jnp.ones(2), state, params)
        # the hyperparam holds the lr used by the update just made (count k)
        assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(s(k)), rel=1e-6)
