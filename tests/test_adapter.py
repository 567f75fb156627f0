"""The adapter contract: optimizer forms, lazy cheap step(), state_dict safety."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest

import jaxsched


def warmup(optimizer, **kw):
    return jaxsched.WarmupLR(optimizer, warmup_min_lr=0.0, warmup_num_steps=4,
                             warmup_type="linear", **kw)


def test_float_optimizer():
    s = warmup(0.4)
    assert s.param_groups == [{"lr": 0.0}] and s.last_batch_iteration == -1
    for _ in range(3):
        s.step()
    assert s.get_last_lr() == [pytest.approx(0.2)]
    assert s.state_dict() == {"last_batch_iteration": 2}


def test_list_of_floats_and_group_dicts_keep_other_keys():
    s = warmup([0.4, {"lr": 0.8, "momentum": 0.9, "weight_decay": 1e-4, "params": ["x"]}])
    s.step(3)
    assert s.param_groups == [{"lr": 0.4 * 0.75}, {"lr": 0.8 * 0.75, "momentum": 0.9,
                                                  "weight_decay": 1e-4}]
    assert len(s.schedules) == 2 and s.schedule is s.schedules[0]


def test_inject_hyperparams_state_is_read():
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=0.3, b1=0.85)
    state = opt.init({"w": jnp.zeros(3)})
    s = jaxsched.OneCycle(state, 0.01, 0.3, cycle_first_step_size=2)
    assert s.cycles_momentum
    assert s.param_groups[0]["betas"] == (0.8, 0.99)
    cosine = jaxsched.WarmupCosineLR(state, 10, warmup_num_steps=2)
    cosine.step(10)
    assert cosine.get_last_lr()[0] == pytest.approx(0.3 * 1e-4)


def test_inject_hyperparams_nested_in_chain():
    opt = optax.chain(optax.clip(1.0), optax.inject_hyperparams(optax.sgd)(learning_rate=0.2,
                                                                           momentum=0.9))
    state = opt.init(jnp.zeros(2))
    s = warmup(state)
    s.step(9)
    assert s.param_groups == [{"lr": pytest.approx(0.2), "momentum": pytest.approx(0.9)}]


def test_state_without_hyperparams_is_rejected():
    state = optax.adam(0.1).init(jnp.zeros(2))
    with pytest.raises(TypeError,
                       match=r"jaxsched.WarmupLR: optimizer must be .*inject_hyperparams"):
        warmup(state)


def test_one_cycle_sgd_groups_disable_momentum_with_warning():
    with pytest.warns(UserWarning, match="cycle_momentum is disabled"):
        s = jaxsched.OneCycle([{"lr": 0.1, "momentum": 0.9}], 0.01, 0.1)
    assert not s.cycles_momentum and s.param_groups == [{"lr": 0.01, "momentum": 0.9}]
    assert s.get_last_momentum() is None
    assert s.schedule.momentum is not None  # the pure curve is still there for optax use


def test_one_cycle_without_momentum_does_not_warn():
    s = jaxsched.OneCycle([{"lr": 0.1, "momentum": 0.9}], 0.01, 0.1, cycle_momentum=False)
    assert not s.cycles_momentum


def test_get_last_lr_before_step_and_resume_constructor():
    s = jaxsched.OneCycle(0.1, 0.01, 0.1, cycle_first_step_size=5, last_batch_iteration=4)
    assert s.last_batch_iteration == 4
    assert s.get_last_lr() == [pytest.approx(0.1)]


@pytest.mark.parametrize("bad,exc,match", [
    ({}, ValueError, r"must have exactly the keys \['last_batch_iteration'\], got \[\]"),
    ({"last_epoch": 3}, ValueError, r"got \['last_epoch'\]"),
    ({"last_batch_iteration": 3, "extra": 1}, ValueError, r"got \['extra', 'last_batch"),
    ({"last_batch_iteration": "3"}, TypeError, r"last_batch_iteration must be an integer"),
    ({"last_batch_iteration": -5}, ValueError, r"last_batch_iteration must be in \[-1"),
    ([("last_batch_iteration", 3)], TypeError, r"state_dict must be a dict"),
], ids=["empty", "torch-key", "extra-key", "string", "negative", "not-a-dict"])
def test_load_state_dict_rejects_and_keeps_state(bad, exc, match):
    s = warmup(0.4)
    for _ in range(3):
        s.step()
    before = (s.state_dict(), s.get_last_lr(), s.param_groups)
    with pytest.raises(exc, match=r"jaxsched.WarmupLR.load_state_dict: .*" + match):
        s.load_state_dict(bad)
    assert (s.state_dict(), s.get_last_lr(), s.param_groups) == before


def test_step_does_not_compile_or_sync():
    s = warmup(0.4)
    s.get_last_lr()
    compiled = s._evaluate._cache_size()
    for _ in range(1000):
        s.step()
    for k in range(0, 50):
        s.step(k)
        s.get_last_lr()
    assert s._evaluate._cache_size() == compiled == 1


def test_step_with_bad_counter_raises():
    s = warmup(0.4)
    with pytest.raises(TypeError, match=r"jaxsched.WarmupLR.step: last_batch_iteration must be "
                                        r"an integer, got 1.5"):
        s.step(1.5)


def test_adapter_values_are_float64_in_float32_mode():
    assert not jax.config.jax_enable_x64
    s = jaxsched.LRRangeTest(0.1, lr_range_test_min_lr=0.1)
    assert s.get_last_lr() == [0.1]
