"""``jaxsched.hyperparams``: the values the most recent update used, read inside ``jit`` from
every optax construction a jaxsched schedule drives, against the schedule evaluated directly;
one trace for the whole run."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched

S = jaxsched.warmup_cosine_lr(40, warmup_num_steps=5, warmup_type="linear", lr=0.1)
S2 = jaxsched.step_lr(7, 0.5, lr=0.02)
W = jaxsched.linear_lr(0.5, 1.0, 30, lr=0.01)
ONE_CYCLE = jaxsched.one_cycle_lr(0.1, total_steps=40)
PARAMS = {"a": jnp.ones(3), "b": jnp.ones(2)}


def last(k):
    """The count of the most recent update after k updates."""
    return max(k - 1, 0)


CASES = {
    "plain_adam": (lambda: optax.adam(learning_rate=S), dict(schedule=S),
                   lambda k: {"learning_rate": S(last(k))}),
    "scheduled_sgd_momentum": (lambda: jaxsched.scheduled(optax.sgd, ONE_CYCLE), {},
                               lambda k: {"learning_rate": ONE_CYCLE(last(k)),
                                          "momentum": ONE_CYCLE.momentum(last(k))}),
    "inject_adamw_wd": (lambda: optax.inject_hyperparams(optax.adamw)(
        learning_rate=S, weight_decay=W), {},
        lambda k: {"learning_rate": S(last(k)), "weight_decay": W(last(k))}),
    "multi_transform": (lambda: optax.multi_transform(
        {"x": optax.adam(S), "y": optax.sgd(S2)}, {"a": "x", "b": "y"}),
        dict(schedule={"x": S, "y": S2}),
        lambda k: {"x": {"learning_rate": S(last(k))}, "y": {"learning_rate": S2(last(k))}}),
    "add_decayed_weights_schedule": (lambda: optax.chain(
        optax.add_decayed_weights(W), optax.sgd(S)), dict(schedule=S, weight_decay_schedule=W),
        lambda k: {"learning_rate": S(last(k)), "weight_decay": W(last(k))}),
    "grouped": (lambda: jaxsched.grouped(optax.scale_by_adam(), jaxsched.param_groups(
        PARAMS, [jaxsched.Rule("b", lr=S2, decay=False)]), lr=S, weight_decay=W), {},
        lambda k: {"learning_rate": jnp.stack([S2(last(k)), S(last(k))]),
                   "weight_decay": jnp.stack([0.0 * W(last(k)), W(last(k))])}),  # b masked
    "decoupled_weight_decay": (lambda: optax.chain(optax.adam(S),
                                                   jaxsched.decoupled_weight_decay(W)),
                               dict(schedule=S),
                               lambda k: {"learning_rate": S(last(k)),
                                          "weight_decay": W(last(k))}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_in_jit_match_the_schedule(name):
    make, kw, expected = CASES[name]
    opt = make()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        updates, state = opt.update(jax.tree.map(jnp.ones_like, params), state, params)
        return optax.apply_updates(params, updates), state, jaxsched.hyperparams(state, **kw)

    chex.clear_trace_counter()
    params, state = PARAMS, opt.init(PARAMS)
    for k in range(0, 45):
        if k:
            params, state, got = step(params, state)
        else:  # before any update: the values the first update will use
            got = jaxsched.hyperparams(state, **kw)
        want = expected(k)
        # injected states also carry their constants (b1, eps, ...): compare what is expected
        if set(want) <= {"learning_rate", "momentum", "weight_decay"}:
            got = {key: got[key] for key in want}
        # float32: within 2e-6 of the smallest peak (W: 0.01), as the project standard
        jax.tree.map(lambda a, b, k=k: np.testing.assert_allclose(a, b, rtol=4e-6, atol=2e-8,
                                                                  err_msg=f"{name} {k}"),
                     got, want)


def test_count_only_state_reports_no_momentum_it_did_not_use():
    """optax.adam(learning_rate=one_cycle): the update used the lr only (adam's b1 stayed
    0.9), so no momentum is reported; an injected b1 is reported as stored."""
    opt = optax.adam(learning_rate=ONE_CYCLE)
    state = opt.init(PARAMS)
    for _ in range(5):
        _, state = opt.update(jax.tree.map(jnp.ones_like, PARAMS), state)
    got = jax.jit(lambda st: jaxsched.hyperparams(st, ONE_CYCLE))(state)
    assert set(got) == {"learning_rate"}
    np.testing.assert_allclose(got["learning_rate"], ONE_CYCLE(4), rtol=1e-7)
    injected = optax.inject_hyperparams(optax.adam)(learning_rate=ONE_CYCLE, b1=0.9)
    got = jaxsched.hyperparams(injected.init(PARAMS))
    assert float(got["b1"]) == pytest.approx(0.9)


def test_plateau_transform():
    tx = optax.chain(optax.scale_by_adam(), jaxsched.reduce_lr_on_plateau(0.1, patience=0))
    state = tx.init(PARAMS)
    step = jax.jit(lambda s, v: tx.update(PARAMS, s, PARAMS, value=v)[1])
    for metric in (3.0, 3.0, 3.0):
        state = step(state, metric)
    assert float(jaxsched.hyperparams(state)["learning_rate"]) == pytest.approx(0.001)


def test_multisteps_advance_per_real_update():
    """Inside optax.MultiSteps the schedule (and what hyperparams reads) advances once per
    real update, not per micro-batch."""
    every = 4
    opt = optax.MultiSteps(jaxsched.scheduled(optax.adam, S), every_k_schedule=every)
    state = opt.init(PARAMS)
    step = jax.jit(lambda s: opt.update(jax.tree.map(jnp.ones_like, PARAMS), s, PARAMS)[1])
    for micro in range(1, 4 * 12 + 3):
        state = step(state)
        real = micro // every
        got = float(jaxsched.hyperparams(state)["learning_rate"])
        assert got == pytest.approx(float(S(last(real))), rel=1e-6), micro
        assert int(state.inner_opt_state.inner_state[0].count) == real  # adam's own count


def test_flax_train_state():
    flax_ts = pytest.importorskip("flax.training.train_state")
    state = flax_ts.TrainState.create(apply_fn=None, params=PARAMS,
                                      tx=jaxsched.scheduled(optax.sgd, S))
    for _ in range(3):
        state = state.apply_gradients(grads=jax.tree.map(jnp.ones_like, PARAMS))
    assert float(jaxsched.hyperparams(state)["learning_rate"]) == pytest.approx(float(S(2)))


def test_missing_schedule_and_empty_state_raise():
    state = optax.adam(S).init(PARAMS)
    with pytest.raises(TypeError, match=r"hyperparams: .*holds only a count.*schedule="):
        jaxsched.hyperparams(state)
    with pytest.raises(TypeError, match=r"hyperparams: no hyperparameter found"):
        jaxsched.hyperparams(optax.sgd(0.1).init(PARAMS))
    state = optax.chain(optax.add_decayed_weights(W), optax.sgd(0.1)).init(PARAMS)
    with pytest.raises(TypeError, match=r"weight_decay_schedule="):
        jaxsched.hyperparams(state)


def test_nnx_optimizer():
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    for tx, kw in ((jaxsched.scheduled(optax.sgd, S2), {}), (optax.adam(S2), dict(schedule=S2))):
        opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
        for _ in range(9):
            grads = nnx.grad(lambda m: (m(jnp.ones((1, 2))) ** 2).sum())(model)
            opt.update(model, grads)
        got = float(jaxsched.hyperparams(opt, **kw)["learning_rate"])
        assert got == pytest.approx(float(S2(8)), rel=1e-6)
