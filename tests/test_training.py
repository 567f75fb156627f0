"""Schedules in optax and flax training: scheduled optimizers, param groups, per-epoch
stepping, adapter.apply without retracing, bf16 params, optax's saturated count."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.training import train_state

import jaxsched


def near(value, peak):
    """The float32 contract: within 2e-6 of the curve's peak (jitted and eager XLA can round
    float32 differently)."""
    return pytest.approx(value, abs=2e-6 * peak)


def run(opt, params, n):
    state = opt.init(params)
    seen = []
    update = jax.jit(opt.update)
    for _ in range(n):
        _, state = update(jax.tree.map(jnp.ones_like, params), state, params)
        seen.append(state)
    return seen


def test_scheduled_sgd_follows_lr_and_momentum():
    s = jaxsched.one_cycle_lr(0.1, total_steps=20)
    states = run(jaxsched.scheduled(optax.sgd, s), jnp.zeros(3), 20)
    lr = [float(st.hyperparams["learning_rate"]) for st in states]
    mom = [float(st.hyperparams["momentum"]) for st in states]
    np.testing.assert_allclose(lr, [float(s(k)) for k in range(20)], rtol=0, atol=2e-7)
    np.testing.assert_allclose(mom, [float(s.momentum(k)) for k in range(20)], rtol=0,
                               atol=2e-6)


def test_scheduled_adam_writes_b1_and_keeps_float32_with_bf16_params():
    s = jaxsched.one_cycle(1e-3, 1e-2, cycle_first_step_size=5)
    params = {"w": jnp.zeros(4, jnp.bfloat16)}
    states = run(jaxsched.scheduled(optax.adamw, s, b2=0.999, weight_decay=0.01), params, 12)
    for k, st in enumerate(states):
        assert st.hyperparams["learning_rate"].dtype == jnp.float32
        assert float(st.hyperparams["b2"]) == np.float32(0.999)  # not bf16's 1.0
        assert float(st.hyperparams["learning_rate"]) == near(float(s(k)), 1e-2)
        assert float(st.hyperparams["b1"]) == near(float(s.momentum(k)), 1.0)


def test_plain_inject_hyperparams_shows_the_bf16_hazard_we_avoid():
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=jaxsched.exponential_lr(0.9,
                                                                                     lr=1e-3))
    state = opt.init({"w": jnp.zeros(2, jnp.bfloat16)})
    assert state.hyperparams["b2"].dtype == jnp.bfloat16 and float(state.hyperparams["b2"]) == 1.0


def test_scheduled_rejects():
    s = jaxsched.one_cycle(0.01, 0.1)
    with pytest.raises(TypeError, match=r"jaxsched.scheduled: jaxsched.one_cycle schedules "
                                        r"momentum but 'adagrad' takes neither"):
        jaxsched.scheduled(optax.adagrad, s)
    with pytest.raises(TypeError, match=r"b1 comes from the schedule's momentum"):
        jaxsched.scheduled(optax.adam, s, b1=0.9)
    with pytest.raises(TypeError, match=r"learning_rate comes from the schedule"):
        jaxsched.scheduled(optax.sgd, jaxsched.warmup_lr(warmup_max_lr=0.1), learning_rate=0.1)
    with pytest.raises(TypeError, match=r"jaxsched.scheduled: schedule must be a real number, "
                                        r"got 'fast'"):
        jaxsched.scheduled(optax.sgd, "fast")


def test_scheduled_takes_a_constant_or_any_optax_schedule():
    params = jnp.zeros(3)
    for schedule, want in ((0.05, [0.05, 0.05]),
                           (optax.linear_schedule(0.1, 0.0, 10), [0.1, 0.09])):
        tx = jaxsched.scheduled(optax.sgd, schedule)
        state = tx.init(params)
        seen = []
        for _ in range(2):
            _, state = tx.update(jnp.ones(3), state, params)
            seen.append(float(state.hyperparams["learning_rate"]))
        assert seen == pytest.approx(want, rel=1e-6)


def test_per_epoch_steps_a_torch_epoch_schedule_inside_the_step_loop():
    epoch_sched = jaxsched.one_cycle_lr(0.1, total_steps=10)
    s = jaxsched.per_epoch(epoch_sched, steps_per_epoch=7)
    ks = jnp.arange(70)
    np.testing.assert_array_equal(np.asarray(jax.vmap(s)(ks)),
                                  np.asarray(jax.vmap(epoch_sched)(ks // 7)))
    np.testing.assert_array_equal(np.asarray(jax.vmap(s.momentum)(ks)),
                                  np.asarray(jax.vmap(epoch_sched.momentum)(ks // 7)))
    with pytest.raises(ValueError, match=r"jaxsched.per_epoch: steps_per_epoch must be in \[1"):
        jaxsched.per_epoch(epoch_sched, 0)


def test_param_groups_as_multi_transform_labels():
    """A backbone on warmup-cosine and a head on one-cycle, as two torch param groups."""
    backbone = jaxsched.warmup_cosine_lr(40, warmup_num_steps=5, lr=1e-3)
    head = jaxsched.one_cycle_lr(1e-2, total_steps=40)
    opt = optax.multi_transform({"backbone": jaxsched.scheduled(optax.adam, backbone),
                                 "head": jaxsched.scheduled(optax.sgd, head)},
                                {"body": "backbone", "out": "head"})
    params = {"body": jnp.zeros(3), "out": jnp.zeros(2)}
    for k, st in enumerate(run(opt, params, 40)):
        inner = st.inner_states
        assert float(inner["backbone"].inner_state.hyperparams["learning_rate"]) == \
            near(float(backbone(k)), 1e-3)
        assert float(inner["head"].inner_state.hyperparams["learning_rate"]) == \
            near(float(head(k)), 1e-2)
        assert float(inner["head"].inner_state.hyperparams["momentum"]) == \
            near(float(head.momentum(k)), 1.0)


def jitted_step(opt):
    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        updates, state = opt.update(jax.tree.map(jnp.ones_like, params), state, params)
        return optax.apply_updates(params, updates), state

    return step


def test_adapter_apply_on_chained_optax_state_never_retraces():
    opt = optax.chain(optax.clip_by_global_norm(1.0),
                      optax.inject_hyperparams(optax.sgd)(learning_rate=0.0, momentum=0.0))
    params = jnp.zeros(3)
    state = opt.init(params)
    sched = jaxsched.OneCycleLR([{"lr": 0.1, "momentum": 0.9}], max_lr=0.1, total_steps=100)
    step = jitted_step(opt)
    for _ in range(100):
        state = sched.apply(state)
        assert float(state[1].hyperparams["learning_rate"]) == np.float32(sched.get_last_lr()[0])
        assert float(state[1].hyperparams["momentum"]) == np.float32(
            sched.get_last_momentum()[0])
        params, state = step(params, state)
        sched.step()


def test_adapter_apply_keeps_dtype_and_weak_type():
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=0.1)
    state = opt.init(jnp.zeros(2))
    new = jaxsched.StepLR(state, step_size=1, gamma=0.5).apply(state)
    old_leaf, new_leaf = state.hyperparams["learning_rate"], new.hyperparams["learning_rate"]
    assert (new_leaf.dtype, new_leaf.weak_type) == (old_leaf.dtype, old_leaf.weak_type)
    assert jax.tree.structure(new) == jax.tree.structure(state)


def test_adapter_apply_on_multi_transform_maps_groups_in_label_order():
    opt = optax.multi_transform(
        {"a": optax.inject_hyperparams(optax.sgd)(learning_rate=0.0),
         "b": optax.inject_hyperparams(optax.sgd)(learning_rate=0.0)}, {"x": "a", "y": "b"})
    state = opt.init({"x": jnp.zeros(1), "y": jnp.zeros(1)})
    sched = jaxsched.ExponentialLR([0.1, 0.3], gamma=0.5)
    sched.step()
    new = sched.apply(state)
    assert float(new.inner_states["a"].inner_state.hyperparams["learning_rate"]) == \
        np.float32(0.05)
    assert float(new.inner_states["b"].inner_state.hyperparams["learning_rate"]) == \
        np.float32(0.15)
    with pytest.raises(ValueError, match=r"3 param groups but 2 injected"):
        jaxsched.ExponentialLR([0.1, 0.2, 0.3], gamma=0.5).apply(state)


def test_adapter_apply_on_flax_train_state():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    ts = train_state.TrainState.create(apply_fn=None, params={"w": jnp.zeros(2)}, tx=tx)
    sched = jaxsched.CosineAnnealingLR(ts.opt_state, T_max=10)
    for _ in range(5):
        sched.step()
    new = sched.apply(ts)
    assert isinstance(new, train_state.TrainState)
    assert float(new.opt_state.hyperparams["learning_rate"]) == pytest.approx(0.05, rel=1e-6)


def test_adapter_apply_on_nnx_optimizer_in_place():
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.inject_hyperparams(optax.adam)(learning_rate=1e-3),
                              wrt=nnx.Param)
    sched = jaxsched.OneCycleLR([{"lr": 1e-3, "betas": (0.9, 0.999)}], max_lr=1e-2,
                                total_steps=10)
    for _ in range(3):
        sched.step()
    assert sched.apply(optimizer) is optimizer
    hyper = optimizer.opt_state.hyperparams
    assert float(hyper["learning_rate"][...]) == near(sched.get_last_lr()[0], 1e-2)
    assert float(hyper["b1"][...]) == near(sched.get_last_momentum()[0], 1.0)


def test_plateau_adapter_apply_and_wrong_state():
    state = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1).init(jnp.zeros(1))
    plateau = jaxsched.ReduceLROnPlateau(state, patience=0)
    for m in (1.0, 1.0):
        plateau.step(m)
    assert float(plateau.apply(state).hyperparams["learning_rate"]) == pytest.approx(0.01)
    with pytest.raises(TypeError, match=r"jaxsched.ReduceLROnPlateau.apply: state has no "
                                        r"injected hyperparameters"):
        plateau.apply(optax.sgd(0.1).init(jnp.zeros(1)))


@pytest.mark.parametrize("make", [
    lambda: jaxsched.one_cycle(0.01, 0.1), lambda: jaxsched.cosine_annealing_lr(100, lr=0.1),
    lambda: jaxsched.warmup_cosine_lr(1000, lr=0.1), lambda: jaxsched.cyclic_lr(0.01, 0.1),
], ids=["one_cycle", "cosine", "warmup_cosine", "cyclic"])
def test_optax_saturated_count(make):
    """optax's int32 count saturates at 2**31-1: the lr there is finite and well defined."""
    s = make()
    opt = jaxsched.scheduled(optax.sgd, s)
    state = opt.init(jnp.zeros(1))
    top = jnp.asarray(2**31 - 1, jnp.int32)
    # optax 0.2.8 counts in two places: the state and each scheduled hyperparameter's state
    saturate = lambda x: top if x.dtype == jnp.int32 else x  # noqa: E731
    state = state._replace(count=top,
                           hyperparams_states=jax.tree.map(saturate, state.hyperparams_states))
    for _ in range(2):  # stays saturated
        _, state = jax.jit(opt.update)(jnp.ones(1), state, jnp.zeros(1))
        assert int(state.count) == 2**31 - 1
        assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(s(2**31 - 1)))
        assert np.isfinite(float(state.hyperparams["learning_rate"]))


def test_adapter_reads_an_nnx_optimizer():
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.inject_hyperparams(optax.sgd)(
        learning_rate=0.2, momentum=0.5), wrt=nnx.Param)
    sched = jaxsched.WarmupLR(optimizer, warmup_num_steps=4, warmup_type="linear")
    assert sched.param_groups[0]["momentum"] == 0.5
    sched.step(10)
    assert sched.get_last_lr() == [pytest.approx(0.2)]
