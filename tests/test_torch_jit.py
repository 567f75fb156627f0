"""The torch ports under jit, vmap and optax: one trace, integer-exact positions, defined
values at negative and saturated counts."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched

A = dict(lr=0.1)
SCHEDULES = {
    "lambda_lr": lambda: jaxsched.lambda_lr(lambda k: 0.99 ** k, **A),
    "multiplicative_lr": lambda: jaxsched.multiplicative_lr(lambda k: 0.99 + 0.0 * k, **A),
    "step_lr": lambda: jaxsched.step_lr(3, 0.5, **A),
    "multi_step_lr": lambda: jaxsched.multi_step_lr([2, 5, 5], 0.5, **A),
    "constant_lr": lambda: jaxsched.constant_lr(0.5, 3, **A),
    "linear_lr": lambda: jaxsched.linear_lr(0.1, 1.0, 8, **A),
    "exponential_lr": lambda: jaxsched.exponential_lr(0.999, **A),
    "polynomial_lr": lambda: jaxsched.polynomial_lr(9, 2.0, **A),
    "cosine_annealing_lr": lambda: jaxsched.cosine_annealing_lr(10, 0.001, **A),
    "cosine_annealing_warm_restarts": lambda: jaxsched.cosine_annealing_warm_restarts(
        3, 2, 0.001, **A),
    "cyclic_lr": lambda: jaxsched.cyclic_lr(0.01, 0.1, 3, 5, "triangular2"),
    "one_cycle_lr": lambda: jaxsched.one_cycle_lr(0.1, total_steps=30, three_phase=True),
    "sequential_lr": lambda: jaxsched.sequential_lr(
        [jaxsched.linear_lr(0.1, 1.0, 4, **A), jaxsched.cosine_annealing_lr(20, **A)], [4]),
    "chained_scheduler": lambda: jaxsched.chained_scheduler(
        [jaxsched.constant_lr(0.5, 3, **A), jaxsched.exponential_lr(0.9, **A)]),
}
# MultiplicativeLR's exact product costs k iterations: its saturated count is not evaluated.
SATURATED = [n for n in SCHEDULES if n != "multiplicative_lr"]


@pytest.mark.parametrize("name", SATURATED)
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_defined_at_negative_and_saturated_counts(name, x64):
    with jax.enable_x64(x64):
        s = SCHEDULES[name]()
        counts = jnp.asarray([-(2**31), -1, 0, 2**30, 2**31 - 2, 2**31 - 1], dtype=jnp.int32)
        values = np.asarray(jax.jit(jax.vmap(s))(counts))
        assert np.all(np.isfinite(values)) and np.all(values[:2] == values[2])
        if s.momentum is not None:
            moms = np.asarray(jax.jit(jax.vmap(s.momentum))(counts))
            assert np.all(np.isfinite(moms)) and np.all(moms[:2] == moms[2])


def test_multiplicative_is_defined_at_negative_counts():
    s = SCHEDULES["multiplicative_lr"]()
    values = np.asarray(jax.jit(jax.vmap(s))(jnp.asarray([-5, -1, 0, 3])))
    assert values[0] == values[1] == values[2] == np.float32(0.1)
    assert values[3] == pytest.approx(0.1 * 0.99**3, rel=1e-6)


def test_warm_restart_positions_are_exact_near_the_top():
    s = jaxsched.cosine_annealing_warm_restarts(1, T_mult=2, lr=1.0)
    # restarts at 2**n - 1; the last one below 2**31 is 2**31 - 1 itself
    assert float(s(2**31 - 1)) == 1.0
    assert float(s(2**30 - 1)) == 1.0
    assert float(s(2**30 - 2)) < 1e-6


def test_cyclic_position_is_exact_far_out_in_float32():
    s = jaxsched.cyclic_lr(0.0, 1.0, step_size_up=5)
    k = 10 * 10**8 + 5  # a peak: k mod 10 == 5
    assert float(s(k)) == 1.0
    assert float(s(k + 5)) == 0.0


@pytest.mark.parametrize("name", SCHEDULES)
def test_one_trace_inside_optax(name):
    s = SCHEDULES[name]()
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=s, momentum=0.9)
    params = {"w": jnp.ones(3)}
    state = opt.init(params)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        updates, state = opt.update(jax.tree.map(jnp.ones_like, params), state, params)
        return optax.apply_updates(params, updates), state

    for k in range(25):
        params, state = step(params, state)
        # float32: within 2e-6 of the peak (eager and jitted XLA may round differently)
        assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(s(k)),
                                                                           abs=2e-6 * 0.1)


@pytest.mark.parametrize("name", ["cyclic_lr", "one_cycle_lr"])
def test_momentum_schedule_under_vmap(name):
    s = SCHEDULES[name]()
    ks = jnp.arange(30)
    moms = jax.jit(jax.vmap(s.momentum))(ks)
    lrs = jax.jit(jax.vmap(s))(ks)
    assert moms.shape == lrs.shape == (30,)
    # momentum moves against the lr
    assert int(jnp.argmax(lrs[:12])) == int(jnp.argmin(moms[:12]))
