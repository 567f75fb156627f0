"""timm 1.0.31's PlateauLRScheduler, live: random settings and metric sequences (ties,
NaN, skipped metrics, noise) stepped through the real scheduler on a torch optimizer and
through ``jaxsched.timm.PlateauLRScheduler``: the same lr after every epoch (exactly: both
are float64 computations in the same order), the same state dict, and state dicts loaded
both ways; ``create_scheduler_v2('plateau')``; timm's quirks; bad input."""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxsched import timm as jt

from helpers import require, require_timm

torch = require("torch")
ts = require_timm()


def timm_plateau(groups, **kw):
    opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], **g}
                           for g in groups])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm deprecates the class
        return opt, ts.PlateauLRScheduler(opt, **kw)


def lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@st.composite
def plateau_runs(draw):
    n = draw(st.integers(1, 2))
    groups = []
    for _ in range(n):
        g = {"lr": draw(st.floats(1e-8, 10.0))}
        if draw(st.booleans()):
            g["lr_scale"] = draw(st.sampled_from([1.0, 0.5, 0.1, 2.0]))
        groups.append(g)
    low = min(g["lr"] * g.get("lr_scale", 1.0) for g in groups)
    kw = dict(decay_rate=draw(st.sampled_from([0.1, 0.5, 0.9, 0.0])),
              patience_t=draw(st.integers(0, 4)), cooldown_t=draw(st.integers(0, 3)),
              threshold=draw(st.sampled_from([0.0, 1e-4, 0.1])),
              warmup_t=draw(st.integers(0, 5)), mode=draw(st.sampled_from(["min", "max"])),
              warmup_lr_init=low * draw(st.sampled_from([0.0, 0.01, 0.5])),
              # a floor above the lr too: timm (torch's max(lr * f, min_lr)) never cuts it
              lr_min=low * draw(st.sampled_from([0.0, 1e-3, 0.3, 1.0, 3.0])))
    if draw(st.booleans()):
        kw.update(noise_range_t=draw(st.sampled_from([3, [2, 9], [0, 40]])),
                  noise_pct=draw(st.sampled_from([0.67, 0.2])),
                  noise_std=draw(st.sampled_from([1.0, 0.3])),
                  noise_seed=draw(st.integers(0, 2**40)))
    values = st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.floats(-5, 5),
                       st.just(math.nan), st.none())
    metrics = draw(st.lists(values, min_size=1, max_size=30))
    return groups, kw, metrics


@settings(max_examples=40, deadline=None)
@given(run=plateau_runs())
def test_random_runs_match_timm(run):
    groups, kw, metrics = run
    opt, ref = timm_plateau(groups, **kw)
    ours = jt.PlateauLRScheduler(groups, **kw)
    assert ours.get_last_lr() == lrs(opt)
    for epoch, metric in enumerate(metrics, start=1):
        ref.step(epoch, metric)
        ours.step(epoch, metric)
        assert ours.get_last_lr() == lrs(opt), epoch
    assert ours.state_dict() == ref.state_dict()
    # resume both ways: a fresh scheduler of each kind loads the other's dict, and both go
    # on with the same metrics (timm restores only best and last_epoch)
    opt2, ref2 = timm_plateau(groups, **kw)
    ours2 = jt.PlateauLRScheduler(groups, **kw)
    ref2.load_state_dict(ours.state_dict())
    ours2.load_state_dict(ref.state_dict())
    for epoch, metric in enumerate(metrics[:10], start=len(metrics) + 1):
        ref2.step(epoch, metric)
        ours2.step(epoch, metric)
        assert ours2.get_last_lr() == lrs(opt2), epoch
    assert ours2.state_dict() == ref2.state_dict()


@pytest.mark.parametrize("case", [
    "step_zero_without_warmup_sets_warmup_lr_init",  # timm sets warmup_lr_init + 0 * 1
    "metric_ignored_during_warmup",
    "cut_starts_from_last_warmup_value",
    "noise_restored_before_the_cut",
    "floor_above_the_lr_never_cuts",  # timm accepts lr_min > lr: max(lr * f, lr_min) > lr
])
def test_named_quirks(case):
    kw = dict(patience_t=0, mode="min", warmup_lr_init=0.003)
    seq = [(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 2.0)]
    if case == "step_zero_without_warmup_sets_warmup_lr_init":
        seq = [(0, None), (1, 1.0), (2, 1.0)]
    elif case == "metric_ignored_during_warmup":
        kw["warmup_t"] = 3
    elif case == "cut_starts_from_last_warmup_value":
        kw["warmup_t"] = 7  # the warmup stops at epoch 2, the cut at 3 is from its value
        seq = [(1, 1.0), (2, 1.0), (8, 1.0), (9, 1.0)]
    elif case == "floor_above_the_lr_never_cuts":
        kw.update(lr_min=0.5, noise_range_t=3, noise_seed=11)
        seq = [(e, 1.0) for e in range(1, 12)]
    else:
        kw.update(noise_range_t=2, noise_seed=3)
    opt, ref = timm_plateau([{"lr": 0.1}], **kw)
    ours = jt.PlateauLRScheduler(0.1, **kw)
    for epoch, metric in seq:
        ref.step(epoch, metric)
        ours.step(epoch, metric)
        assert ours.get_last_lr() == lrs(opt), (case, epoch)
    if case == "step_zero_without_warmup_sets_warmup_lr_init":
        assert ours.get_last_lr() == [0.003 * 0.1]


PLATEAU_CONFIGS = [
    dict(num_epochs=90, patience_epochs=3, decay_rate=0.5, min_lr=1e-5, warmup_epochs=2,
         plateau_mode="min"),
    dict(num_epochs=30, warmup_epochs=3, warmup_prefix=True, noise=[0.3, 0.8],
         noise_seed=7),
]


@pytest.mark.parametrize("kw", PLATEAU_CONFIGS)
def test_create_scheduler_v2_plateau_matches_timm(kw):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=5e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref, ref_epochs = ts.create_scheduler_v2(opt, "plateau", **kw)
    ours, epochs = jt.create_scheduler_v2(5e-4, "plateau", **kw)
    assert (type(ours).__name__, epochs) == (type(ref).__name__, ref_epochs)
    assert ours.get_last_lr() == lrs(opt)
    for epoch in range(1, epochs + 1):
        metric = 1.0 / epoch if epoch < 10 else 0.1
        ref.step(epoch, metric)
        ours.step(epoch, metric)
        assert ours.get_last_lr() == lrs(opt), epoch
    assert ours.state_dict() == ref.state_dict()


def test_noise_from_create_scheduler_v2_matches_timm():
    """create_scheduler_v2's ``noise`` (fractions of the schedule) on a count schedule."""
    kw = dict(num_epochs=20, noise=0.5, noise_pct=0.5, noise_seed=11)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref, _ = ts.create_scheduler_v2(opt, "cosine", **kw)
    ours, _ = jt.create_scheduler_v2(0.1, "cosine", **kw)
    assert ours.state_dict()["noise_range_t"] == ref.state_dict()["noise_range_t"] == 10.0
    for epoch in range(1, 21):
        ref.step(epoch)
        ours.step(epoch)
        assert ours.get_last_lr() == pytest.approx(lrs(opt), rel=1e-12), epoch


@pytest.mark.parametrize("noise_type", ["uniform", "gaussian"])
@pytest.mark.parametrize("pct", [0.67, 0.05, 1.5, -0.3])
def test_uniform_noise_matches_timm(noise_type, pct):
    """timm draws uniform noise for any noise_type but 'normal'; over 300 epochs (300
    seeds) the lrs equal timm's exactly; a name other than 'uniform' warns once."""
    kw = dict(patience_t=3, mode="min", decay_rate=0.5, noise_range_t=[5, 300],
              noise_type=noise_type, noise_pct=pct, noise_seed=12_345)
    groups = [{"lr": 0.1}, {"lr": 0.02, "lr_scale": 0.5}]
    opt, ref = timm_plateau(groups, **kw)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ours = jt.PlateauLRScheduler(groups, **kw)
    assert len([w for w in seen if "noise_type" in str(w.message)]) == (
        noise_type != "uniform")
    for epoch in range(1, 301):
        metric = 1.0 / epoch if epoch % 40 < 20 else 1.0
        ref.step(epoch, metric)
        ours.step(epoch, metric)
        assert ours.get_last_lr() == lrs(opt), epoch


BAD = {
    "factor_one": (dict(decay_rate=1.0), ValueError,
                   r"PlateauLRScheduler: factor must be in \[0, 1\).*1.0"),
    "mode": (dict(mode="avg"), ValueError, r"PlateauLRScheduler: mode .*'avg'"),
    "noise_type_number": (dict(noise_type=1), TypeError,
                          r"PlateauLRScheduler: noise_type must be a string .*got 1"),
    "warmup_string": (dict(warmup_t="5"), TypeError, r"PlateauLRScheduler: warmup_t"),
    "patience_negative": (dict(patience_t=-1), ValueError, r"patience.*-1"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_settings_raise(name):
    kw, err, match = BAD[name]
    with pytest.raises(err, match=match):
        jt.PlateauLRScheduler(0.1, **kw)


def test_bad_steps_and_state_dicts_change_nothing():
    s = jt.PlateauLRScheduler(0.1, patience_t=0, mode="min")
    s.step(1, 1.0)
    s.step(2, 1.0)
    before = (s.get_last_lr(), s.state_dict())
    with pytest.raises(ValueError, match=r"PlateauLRScheduler.step: epoch.*-1"):
        s.step(-1, 1.0)
    with pytest.raises(TypeError, match=r"PlateauLRScheduler.step: metric.*shape \(2,\)"):
        s.step(3, jnp.ones(2))
    with pytest.raises(TypeError, match=r"PlateauLRScheduler.step: metric"):
        s.step(3, "0.5")
    for bad, err, match in [
            ({"best": 1.0, "num_bad_epochs": 0}, ValueError, r"keys 'best' and optionally"),
            ({"last_epoch": 3}, ValueError, r"keys 'best'"),
            ({"best": "1.0"}, TypeError, r"best must be a number"),
            ({"best": 1.0, "last_epoch": -2}, ValueError, r"last_epoch.*-2"),
            ([("best", 1.0)], TypeError, r"state_dict must be a dict")]:
        with pytest.raises(err, match=match):
            s.load_state_dict(bad)
        assert (s.get_last_lr(), s.state_dict()) == before
    s.load_state_dict({"best": -math.inf})
    assert s.state_dict() == {"best": -math.inf, "last_epoch": 2}


def test_timm_schedule_and_per_update_plateau_refused():
    with pytest.raises(ValueError, match=r"timm_schedule: sched='plateau' follows a metric"):
        jt.timm_schedule(0.1, "plateau")
    with pytest.raises(ValueError, match=r"sched='plateau' steps per epoch only"):
        jt.create_scheduler_v2(0.1, "plateau", step_on_epochs=False, updates_per_epoch=5)
