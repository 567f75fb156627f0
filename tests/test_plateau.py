"""The in-graph plateau transform: torch's ordering, one trace, chains, per-epoch metrics;
and the adapter's state safety."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

import jaxsched


def run(tx, metrics, **extra):
    params = jnp.ones(2)
    state = tx.init(params)
    lrs, steps = [], []
    for m in metrics:
        updates, state = tx.update(jnp.ones(2), state, params, value=m, **extra)
        steps.append(float(-updates[0]))
        lrs.append(float(state.plateau.lr))
    return steps, lrs


def test_metric_of_update_k_changes_lr_from_update_k_plus_1():
    tx = jaxsched.reduce_lr_on_plateau(1.0, patience=0, factor=0.5)
    steps, lrs = run(tx, [1.0, 2.0, 3.0])
    # update 0 uses lr 1; its metric 1.0 improves on inf: no cut; metric 2.0 (update 1) is a
    # bad epoch past patience 0: the cut applies from update 2 on
    assert steps == [1.0, 1.0, 0.5]
    assert lrs == [1.0, 0.5, 0.25]


def test_differs_from_optax_contrib_with_patience_zero():
    """optax 0.2.8's contrib.reduce_on_plateau tests ``plateau_count == patience``: with
    patience=0 it cuts on an *improvement* (count 0), at once, and never on a plateau.
    torch (and jaxsched) cut after each flat evaluation, from the next update on."""
    ours = run(jaxsched.reduce_lr_on_plateau(1.0, patience=0, factor=0.5), [1.0, 1.0, 1.0])[1]
    contrib = optax.contrib.reduce_on_plateau(patience=0, factor=0.5)
    state = contrib.init(jnp.ones(1))
    scales = []
    for m in [1.0, 1.0, 1.0]:
        _, state = contrib.update(jnp.ones(1), state, value=m)
        scales.append(float(state.scale))
    assert ours == [1.0, 0.5, 0.25]
    assert scales == [0.5, 0.5, 0.5]


def test_one_trace_with_value_and_value_ready_traced():
    tx = optax.chain(optax.scale_by_adam(), jaxsched.reduce_lr_on_plateau(0.1, patience=1))
    params = {"w": jnp.ones(3)}
    state = tx.init(params)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state, metric, ready):
        grads = jax.tree.map(jnp.ones_like, params)
        updates, state = tx.update(grads, state, params, value=metric, value_ready=ready)
        return optax.apply_updates(params, updates), state

    lrs = []
    for i in range(40):  # a metric once per "epoch" of 5 steps, inside the jitted step
        params, state = step(params, state, jnp.float32(1.0), jnp.asarray(i % 5 == 4))
        lrs.append(float(state[1].plateau.lr))
    # epochs end at steps 4, 9, 14, 19: the 2nd flat epoch after the first exceeds patience 1
    assert lrs[13] == pytest.approx(0.1) and lrs[14] == pytest.approx(0.01)
    assert int(state[1].plateau.last_epoch) == 8


def test_value_ready_false_leaves_state_alone():
    tx = jaxsched.reduce_lr_on_plateau(1.0, patience=0)
    _, lrs = run(tx, [1.0, 5.0, 5.0], value_ready=False)
    assert lrs == [1.0, 1.0, 1.0]


def test_missing_value_raises():
    tx = jaxsched.reduce_lr_on_plateau(1.0)
    with pytest.raises(TypeError, match=r"jaxsched.reduce_lr_on_plateau: update needs the "
                                        r"metric as value=\.\.\., got value=None"):
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)))


def test_updates_keep_their_dtype():
    tx = jaxsched.reduce_lr_on_plateau(0.1)
    grads = {"w": jnp.ones(2, jnp.bfloat16)}
    updates, _ = tx.update(grads, tx.init(grads), value=1.0)
    assert updates["w"].dtype == jnp.bfloat16


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    (dict(factor=1.0), ValueError, r"factor must be in \[0, 1\).*got 1.0"),
    (dict(factor=-0.1), ValueError, r"factor must be in \[0, 1\).*got -0.1"),
    (dict(mode="avg"), ValueError, r"mode must be one of \('min', 'max'\), got 'avg'"),
    (dict(threshold_mode="pct"), ValueError, r"threshold_mode must be one of"),
    (dict(patience=-1), ValueError, r"patience must be in \[0, .*got -1"),
    (dict(cooldown=1.5), TypeError, r"cooldown must be an integer, got 1.5"),
    (dict(threshold=1.5), ValueError, r"a relative threshold must be < 1 in min mode"),
    (dict(eps=float("nan")), ValueError, r"eps must be finite, got nan"),
    (dict(min_lr=-1.0), ValueError, r"min_lr must be >= 0, got -1.0"),
], ids=["factor-one", "factor-negative", "mode", "threshold-mode", "patience", "cooldown",
        "threshold", "eps", "min-lr"])
def test_transform_rejects(kwargs, exc, match):
    with pytest.raises(exc, match=r"jaxsched.reduce_lr_on_plateau: " + match):
        jaxsched.reduce_lr_on_plateau(0.1, **kwargs)


def test_adapter_rejects_bad_settings_and_min_lr_lengths():
    with pytest.raises(ValueError, match=r"jaxsched.ReduceLROnPlateau: factor must be"):
        jaxsched.ReduceLROnPlateau(0.1, factor=2.0)
    with pytest.raises(ValueError, match=r"expected 2 min_lrs \(one per param group\), got 3"):
        jaxsched.ReduceLROnPlateau([0.1, 0.2], min_lr=[0.0, 0.0, 0.0])


@pytest.mark.parametrize(("mutate", "exc", "match"), [
    (lambda sd: sd.pop("best"), ValueError, r"expected keys"),
    (lambda sd: sd.update(factor=1.5), ValueError, r"factor must be in \[0, 1\) .*got 1.5"),
    (lambda sd: sd.update(num_bad_epochs=-1), ValueError, r"num_bad_epochs must be in \[0"),
    (lambda sd: sd.update(_last_lr=[0.1, 0.2]), ValueError, r"_last_lr must list 1 lrs"),
    (lambda sd: sd.update(best="low"), TypeError, r"best must be a number"),
], ids=["missing", "bad-factor", "negative", "lr-length", "best-type"])
def test_adapter_load_state_dict_rejects_and_keeps_state(mutate, exc, match):
    sched = jaxsched.ReduceLROnPlateau(0.1, patience=0)
    for m in (1.0, 2.0, 3.0):
        sched.step(m)
    before = sched.state_dict()
    bad = sched.state_dict()
    mutate(bad)
    with pytest.raises(exc, match=r"jaxsched.ReduceLROnPlateau.load_state_dict: .*" + match):
        sched.load_state_dict(bad)
    assert sched.state_dict() == before


def test_adapter_step_takes_device_metric_without_host_round_trip():
    sched = jaxsched.ReduceLROnPlateau(0.1, patience=0)
    metric = jnp.asarray(1.0)
    for _ in range(3):
        sched.step(metric)
    assert sched.get_last_lr() == [pytest.approx(0.001)]
