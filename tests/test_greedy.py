"""transformers 5.23.0's GreedyLR (``SchedulerType.GREEDY``), live: random settings and
metric sequences (ties, NaN, smoothing, resets) through the real scheduler on a torch
optimizer and through ``jaxsched.transformers.GreedyLR`` (the same lrs after every step,
exactly: both are float64 computations in the same order), the state dict and loading it
both ways; the in-graph ``greedy_lr`` transform in a jitted scan, float64 and float32;
``get_scheduler("greedy")``; bad input."""

from __future__ import annotations

import json
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxsched
from jaxsched.transformers import GreedyLR, greedy_lr

from helpers import require

torch = require("torch")
transformers = require("transformers")
from transformers.optimization import GreedyLR as Ref  # noqa: E402


def torch_opt(lrs):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}
                            for lr in lrs])


def lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@st.composite
def runs(draw):
    n = draw(st.integers(1, 2))
    group_lrs = [draw(st.floats(1e-5, 0.5)) for _ in range(n)]
    kw = dict(mode=draw(st.sampled_from(["min", "max"])),
              factor=draw(st.sampled_from([0.95, 0.5, 0.8, 0.1])),
              # fractional and negative counts too: transformers compares num > patience
              # and counts a cooldown / warmup down while it is above 0
              patience=draw(st.one_of(st.integers(0, 4), st.sampled_from([0.5, 1.5, 2.7,
                                                                           -0.5, -1]))),
              cooldown=draw(st.one_of(st.integers(0, 3), st.sampled_from([0.5, 1.5, 2.25,
                                                                           -0.5, -2]))),
              warmup=draw(st.one_of(st.integers(0, 3), st.sampled_from([0.25, 1.5, 2.5,
                                                                         -1.5]))),
              threshold=draw(st.sampled_from([1e-6, 0.0, 0.05])),
              threshold_mode=draw(st.sampled_from(["abs", "rel"])),
              reset_start=draw(st.integers(1, 6)),
              eps=draw(st.sampled_from([1e-8, 0.0, 1e-3])))
    if draw(st.booleans()):
        kw["min_lr"] = [draw(st.floats(0.0, 1e-3)) for _ in range(n)] if draw(
            st.booleans()) else draw(st.floats(0.0, 1e-3))
    if draw(st.booleans()):
        kw["max_lr"] = draw(st.floats(0.5, 2.0))
    if draw(st.booleans()):
        kw.update(smooth=True, window_size=draw(st.integers(1, 6)))
    values = st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.floats(-5, 5),
                       st.just(math.nan))
    metrics = draw(st.lists(values, min_size=1, max_size=60))
    return group_lrs, kw, metrics


@settings(max_examples=15, deadline=None)
@given(run=runs())
def test_random_runs_match_transformers(run):
    group_lrs, kw, metrics = run
    opt = torch_opt(group_lrs)
    ref = Ref(opt, **kw)
    ours = GreedyLR([{"lr": lr} for lr in group_lrs], **kw)
    assert ours.get_last_lr() == ref.get_last_lr() == lrs(opt)
    for i, metric in enumerate(metrics):
        ref.step(metric)
        ours.step(metric)
        assert ours.get_last_lr() == lrs(opt), (i, metric)
    assert _plain(ours.state_dict()) == _plain(ref.state_dict())
    # resume both ways and go on with the same metrics
    opt2 = torch_opt(group_lrs)
    ref2 = Ref(opt2, **kw)
    ours2 = GreedyLR([{"lr": lr} for lr in group_lrs], **kw)
    ref2.load_state_dict(ours.state_dict())
    ours2.load_state_dict(ref.state_dict())
    for metric in metrics[:20]:
        ref2.step(metric)
        ours2.step(metric)
        assert ours2.get_last_lr() == lrs(opt2)
    assert _plain(ours2.state_dict()) == _plain(ref2.state_dict())


def _plain(state):
    """A state dict as JSON text (NaN and inf spelled out, so NaN equals NaN)."""
    return json.dumps(state, sort_keys=True)


def test_resets_after_reset_start_cuts_at_the_floor():
    kw = dict(patience=0, factor=0.5, min_lr=0.01, reset_start=3, cooldown=1)
    opt = torch_opt([0.1])
    ref = Ref(opt, **kw)
    ours = GreedyLR([0.1], **kw)
    seen = []
    for _ in range(40):
        ref.step(1.0)
        ours.step(1.0)
        assert ours.get_last_lr() == lrs(opt)
        seen.append(lrs(opt)[0])
    assert 0.1 in seen[1:] and 0.01 in seen  # it reached the floor and reset


def test_epoch_argument_sets_the_count():
    opt = torch_opt([0.1])
    ref = Ref(opt, patience=1)
    ours = GreedyLR([0.1], patience=1)
    for epoch, metric in [(5, 1.0), (9, 0.5), (None, 0.7)]:
        ref.step(metric, epoch)
        ours.step(metric, epoch)
    assert _plain(ours.state_dict()) == _plain(ref.state_dict())


@pytest.mark.parametrize("x64", [True, False])
@pytest.mark.parametrize("counts", [dict(patience=3, cooldown=2, warmup=1),
                                    dict(patience=2.5, cooldown=1.5, warmup=0.25)],
                         ids=["integers", "fractions"])
def test_in_graph_transform_follows_transformers(x64, counts):
    """The optax transform in a jitted scan: update k is scaled by the lr in force before
    metric k; the lrs are transformers' (float64 exactly, float32 to 2e-6 of the peak)."""
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(3.0, 1.0, 30), np.full(40, 1.0),
                              rng.uniform(0.5, 2.0, 130), np.linspace(1.0, 0.1, 100)])
    kw = dict(factor=0.8, smooth=True, window_size=5, min_lr=1e-4, max_lr=0.5, reset_start=4,
              **counts)
    opt = torch_opt([0.05])
    ref = Ref(opt, **kw)
    expected = []
    for m in metrics:
        expected.append(lrs(opt)[0])
        ref.step(float(m))
    with jax.enable_x64(x64):
        tx = greedy_lr(0.05, **kw)
        dtype = jnp.float64 if x64 else jnp.float32

        @jax.jit
        def run(ms):
            def body(state, m):
                up, state = tx.update(jnp.ones(1, dtype), state, value=m)
                return state, -up[0]
            return jax.lax.scan(body, tx.init(jnp.zeros(1, dtype)), ms)[1]

        ours = np.asarray(run(jnp.asarray(metrics, dtype)))
    if x64:
        assert ours.tolist() == expected
    else:
        np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-6 * max(expected))


def test_get_scheduler_greedy_gives_the_adapter_or_the_transform():
    assert "greedy" in {s.value for s in transformers.SchedulerType}
    adapter = jaxsched.get_scheduler("greedy", [{"lr": 0.1}],
                                     scheduler_specific_kwargs=dict(patience=0))
    assert isinstance(adapter, GreedyLR)
    opt = torch_opt([0.1])
    ref = transformers.get_scheduler("greedy", opt, scheduler_specific_kwargs=dict(patience=0))
    for m in (1.0, 1.0, 0.5, 0.4, 0.3):
        ref.step(m)
        adapter.step(m)
        assert adapter.get_last_lr() == lrs(opt)
    tx = jaxsched.get_scheduler("greedy", 0.1)
    assert hasattr(tx, "update")


BAD = {
    "factor_one": (dict(factor=1.0), ValueError, r"factor must be < 1.0"),
    "factor_zero": (dict(factor=0.0), ValueError, r"factor must not be 0"),
    "factor_str": (dict(factor="0.5"), TypeError, r"factor must be a real number, got '0.5'"),
    "mode": (dict(mode="mni"), ValueError, r"mode must be one of .*'mni'.*did you mean"),
    "threshold_mode": (dict(threshold_mode="absolute"), ValueError, r"threshold_mode"),
    "patience_bool": (dict(patience=True), TypeError, r"patience must be a real number"),
    "cooldown_str": (dict(cooldown="2"), TypeError, r"cooldown must be a real number"),
    "warmup_nan": (dict(warmup=math.nan), ValueError, r"warmup must be finite, got nan"),
    "cooldown_huge": (dict(cooldown=2.5e10), ValueError, r"cooldown must be in "
                                                          r"\[-2147483647, 2147483647\]"),
    "empty_window": (dict(smooth=True, window_size=0), ValueError, r"window_size must be >= 1"),
    "min_lrs_length": (dict(min_lr=[0.0, 0.0]), ValueError, r"expected 1 min_lrs"),
    "smooth_str": (dict(smooth="yes"), TypeError, r"smooth must be a bool"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_settings_raise(name):
    kw, err, match = BAD[name]
    with pytest.raises(err, match=rf"jaxsched\.transformers\.GreedyLR: .*{match}"):
        GreedyLR([0.1], **kw)


def test_negative_factor_warns_once_and_steps_as_transformers():
    opt = torch_opt([0.1])
    ref = Ref(opt, factor=-0.5, patience=0)
    with pytest.warns(UserWarning, match="factor -0.5 is negative") as record:
        ours = GreedyLR([0.1], factor=-0.5, patience=0)
    assert len(record) == 1
    for m in (1.0, 2.0, 0.5, 0.1, 3.0):
        ref.step(m)
        ours.step(m)
        assert ours.get_last_lr() == lrs(opt)


def test_bad_steps_and_state_dicts_change_nothing():
    s = GreedyLR([0.1], patience=0)
    s.step(1.0)
    before = s.state_dict()
    with pytest.raises(TypeError, match=r"GreedyLR.step: metrics must be a real scalar"):
        s.step([1.0, 2.0])
    with pytest.raises(ValueError, match=r"GreedyLR.load_state_dict: state_dict has keys "
                                         r"GreedyLR does not save: \['lr'\]"):
        s.load_state_dict({"lr": 0.1})
    with pytest.raises(TypeError, match=r"load_state_dict: best must be a number"):
        s.load_state_dict({"best": "x"})
    with pytest.raises(ValueError, match=r"load_state_dict: expected 1 _last_lrs"):
        s.load_state_dict({"_last_lr": [0.1, 0.2]})
    assert s.state_dict() == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.load_state_dict({"num_bad_epochs": 3})  # a subset, as transformers takes it
    assert s.state_dict()["num_bad_epochs"] == 3


@pytest.mark.parametrize(("patience", "cooldown", "warmup"),
                         [(1.5, 2.5, 0.5), (0.5, -0.5, 1.25), (-0.5, 0.75, 1.5),
                          (2.2, -1.5, -0.5)],
                         ids=["halves", "negative-cooldown", "negative-patience",
                              "negative-counts"])
def test_fractional_counts_step_and_save_as_transformers(patience, cooldown, warmup):
    """transformers compares num > patience (floor for integer counts) and counts a
    cooldown / warmup down from its fractional value while above 0: the lrs and the state
    dicts (fractional counters included) equal transformers', and resume both ways."""
    kw = dict(patience=patience, cooldown=cooldown, warmup=warmup, factor=0.5, min_lr=1e-3)
    metrics = [3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.2, 0.1,
               0.1, 0.1, 0.1, 0.1, 0.05] * 3
    opt = torch_opt([0.1])
    ref = Ref(opt, **kw)
    ours = GreedyLR([0.1], **kw)
    seen = set()
    for i, metric in enumerate(metrics):
        ref.step(metric)
        ours.step(metric)
        assert ours.get_last_lr() == lrs(opt), i
        assert _plain(ours.state_dict()) == _plain(ref.state_dict()), i
        seen.add((ref.state_dict()["cooldown_counter"], ref.state_dict()["warmup_counter"]))
    assert len(seen) > 1 or min(cooldown, warmup) < 0  # the counters moved
    ref2, ours2 = Ref(torch_opt([0.1]), **kw), GreedyLR([0.1], **kw)
    ref2.load_state_dict(ours.state_dict())
    ours2.load_state_dict(ref.state_dict())
    for metric in metrics[:25]:
        ref2.step(metric)
        ours2.step(metric)
    assert _plain(ours2.state_dict()) == _plain(ref2.state_dict())
