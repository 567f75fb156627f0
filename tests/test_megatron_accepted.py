"""megatron-core 0.16.1, live: configurations jaxsched once refused and Megatron steps
through (WSD with any ``wsd_decay_steps``, param groups whose own lrs or weight decays lie
outside the class values, Megatron-LM arguments after ``validate_args``), and the Megatron
front end (``get_lr``, ``get_wd``, groups without an lr, the weight decay in force right
after ``load_state_dict``), each against the real scheduler; values three ways (ours,
Megatron, the exact oracle) where they differ at all."""

from __future__ import annotations

import copy
import logging
import warnings

import jax
import numpy as np
import pytest

from jaxsched import megatron as jm
from jaxsched.tools import oracle, parity

from helpers import require

require("torch")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    Ref = require("megatron.core.optimizer_param_scheduler").OptimizerParamScheduler
logging.getLogger("megatron").setLevel(logging.WARNING)


class Optimizer:
    def __init__(self, groups):
        self.param_groups = groups


def _agree(ref, ours, where):
    """lr and weight decay per group: equal to 1e-12, else judged three ways."""
    theirs = [g["lr"] for g in ref.optimizer.param_groups]
    mine = ours.get_last_lr()
    if not np.allclose(mine, theirs, rtol=1e-12, atol=1e-300):
        with jax.enable_x64(True):
            exact = [oracle.exact_values(s, [ours.num_steps])[0] for s in ours.schedules]
        assert parity.judge(mine, exact, theirs, x64=True).ok, (where, mine, theirs, exact)
    wd = [g["weight_decay"] for g in ref.optimizer.param_groups]
    mine = ours.get_last_wd()
    if not np.allclose(mine, wd, rtol=1e-12, atol=1e-300):
        with jax.enable_x64(True):
            exact = [oracle.exact_values(w, [ours.num_steps])[0] * m
                     for w, m in zip(ours._wds, ours._wd_mults, strict=True)]
        assert parity.judge(mine, exact, wd, x64=True).ok, (where, mine, wd, exact)


def _run(kw, groups, increments):
    ref = Ref(Optimizer(copy.deepcopy(groups)), **kw)
    ours = jm.OptimizerParamScheduler(copy.deepcopy(groups), **kw)
    _agree(ref, ours, 0)
    for inc in increments:
        ref.step(inc)
        ours.step(inc)
        _agree(ref, ours, ours.num_steps)
    assert ours.state_dict() == ref.state_dict()
    return ref, ours


WD = dict(start_wd=0.01, end_wd=0.1, wd_incr_steps=480_000, wd_incr_style="cosine")
# samples: a global batch of 512 per iteration, 1000 iterations of decay, read every 7th
# iteration and around the phase ends
BASE = dict(init_lr=0.0, max_lr=3e-4, min_lr=3e-5, lr_warmup_steps=25_600,
            lr_decay_steps=512_000, **WD)
STEPS = [3_584] * 7 + [512, 1, 1] + [3_584] * 135 + [511, 1, 1, 3_584]


@pytest.mark.parametrize("wsd", [512_000 - 25_600, 512_000, 700_000, 0, -5_120],
                         ids=["whole_decay", "decay_steps", "longer", "zero", "negative"])
@pytest.mark.parametrize("style", ["linear", "cosine", "exponential", "minus_sqrt"])
def test_wsd_with_any_decay_length_matches_megatron(wsd, style):
    kw = dict(BASE, lr_decay_style="WSD", wsd_decay_steps=wsd, lr_wsd_decay_style=style)
    _run(kw, [{"lr": 0.0, "weight_decay": 0.0}], STEPS)


def test_wsd_pure_schedule_is_exact_both_dtypes():
    marks = sorted({0, 1, 25_599, 25_600, 25_601, 100_000, 511_999, 512_000, 512_001,
                    2**31 - 1, *range(0, 520_000, 4_099)})
    for wsd in (512_000, 0, 700_000):
        s = jm.lr_schedule(3e-4, 3e-5, 25_600, 512_000, "WSD", 0.0, wsd, "cosine")
        for x64 in (True, False):
            with jax.enable_x64(x64):
                ours = np.asarray(jax.jit(jax.vmap(s))(np.asarray(
                    marks, np.int64 if x64 else np.int32)))
                exact = oracle.exact_values(s, marks)
                peak = float(np.max(np.abs(exact)))
                assert parity.judge(ours, exact, x64=x64, peak=peak, steps=marks).ok, (wsd, x64)


GROUPS = {
    # megatron-core: a --decoupled-lr group below --min-lr (its min_lr the class min_lr)
    "decoupled_below_min": [{"lr": 0.0}, {"lr": 0.0, "max_lr": 1e-5, "min_lr": 3e-5}],
    "group_above_class": [{"lr": 0.0}, {"lr": 0.0, "max_lr": 1e-3, "min_lr": 5e-4}],
    "group_below_init": [{"lr": 0.0}, {"lr": 0.0, "max_lr": 1e-6, "min_lr": 0.0}],
    "group_wd_decreasing": [{"lr": 0.0}, {"lr": 0.0, "start_wd": 0.2, "end_wd": 0.0,
                                          "wd_mult": 0.5}],
}


@pytest.mark.parametrize("name", sorted(GROUPS))
@pytest.mark.parametrize("style", ["linear", "cosine", "inverse-square-root", "WSD"])
def test_groups_outside_the_class_values_match_megatron(name, style):
    kw = dict(BASE, lr_decay_style=style, init_lr=1e-6)
    if style == "WSD":
        kw.update(wsd_decay_steps=102_400, lr_wsd_decay_style="exponential")
    _run(kw, GROUPS[name], STEPS)


def test_groups_without_an_lr_are_written_as_megatron_writes_them():
    groups = [{"weight_decay": 0.0}, {"max_lr": 1e-3, "wd_mult": 0.0}]
    ref, ours = _run(dict(BASE, lr_decay_style="cosine"), groups, [3_584] * 40)
    assert [g["lr"] for g in ours.param_groups] == pytest.approx(
        [g["lr"] for g in ref.optimizer.param_groups], rel=1e-12)


def test_get_lr_and_get_wd_are_megatrons():
    kw = dict(BASE, lr_decay_style="cosine")
    ref = Ref(Optimizer([{"lr": 0.0}]), **kw)
    ours = jm.OptimizerParamScheduler([{"lr": 0.0}], **kw)
    probes = [{}, {"max_lr": 1e-3}, {"min_lr": 1e-4, "max_lr": 2e-5},
              {"start_wd": 0.3, "end_wd": 0.05}, {"end_wd": 0.5}]
    for inc in (0, 1_000, 24_600, 1, 100_000, 386_399, 1, 10**6):
        ref.step(inc)
        ours.step(inc)
        for group in probes:
            assert ours.get_lr(group) == pytest.approx(ref.get_lr(group), rel=1e-12), group
            assert ours.get_wd(group) == pytest.approx(ref.get_wd(group), rel=1e-12), group
        assert ours.get_wd() == pytest.approx(ref.get_wd(), rel=1e-12)


def test_get_lr_refuses_what_is_not_a_param_group():
    ours = jm.OptimizerParamScheduler([{"lr": 0.0}], **dict(BASE, lr_decay_style="cosine"))
    with pytest.raises(TypeError, match=r"OptimizerParamScheduler.get_lr: param_group must "
                                        r"be a dict, got 0.1"):
        ours.get_lr(0.1)
    with pytest.raises(TypeError, match=r"get_lr: max_lr must be a real number, got '1'"):
        ours.get_lr({"max_lr": "1"})
    with pytest.raises(TypeError, match=r"get_wd: param_group must be a dict or None"):
        ours.get_wd([1])


@pytest.mark.parametrize("flag", ["use_checkpoint", "override"])
def test_weight_decay_right_after_load_is_megatrons(flag):
    """Megatron steps (writing the weight decay with its own settings) before it reads the
    checkpoint's weight-decay keys: the next step() brings the checkpoint's in."""
    flags = (dict(use_checkpoint_opt_param_scheduler=True) if flag == "use_checkpoint" else
             dict(use_checkpoint_opt_param_scheduler=False, override_opt_param_scheduler=True))
    saved = Ref(Optimizer([{"lr": 0.0}]), **dict(BASE, lr_decay_style="linear"))
    saved.step(123_456)
    other = dict(BASE, lr_decay_style="linear", start_wd=0.0, end_wd=0.3,
                 wd_incr_steps=200_000, wd_incr_style="linear")
    groups = [{"lr": 0.0}, {"lr": 0.0, "wd_mult": 2.0}]
    ref = Ref(Optimizer(copy.deepcopy(groups)), **other, **flags)
    ours = jm.OptimizerParamScheduler(copy.deepcopy(groups), **other, **flags)
    before = ours.state_dict()
    ref.load_state_dict(saved.state_dict())
    ours.load_state_dict(saved.state_dict())
    _agree(ref, ours, "after load")
    assert [g["weight_decay"] for g in ours.param_groups] == pytest.approx(
        [g["weight_decay"] for g in ref.optimizer.param_groups], rel=1e-12)
    assert ours.state_dict() == ref.state_dict() != before
    for inc in (0, 512, 100_000):
        ref.step(inc)
        ours.step(inc)
        _agree(ref, ours, ("after", inc))


def test_args_after_validate_args_with_a_constant_weight_decay():
    """validate_args sets start_weight_decay = end_weight_decay = weight_decay for the
    constant style; from_args takes those arguments and gives Megatron's scheduler."""
    raw = dict(lr=3e-4, min_lr=3e-5, train_iters=1000, global_batch_size=512,
               lr_warmup_iters=50, lr_decay_style="cosine", weight_decay=0.1)
    validated = dict(raw, start_weight_decay=0.1, end_weight_decay=0.1,
                     weight_decay_incr_style="constant")
    kw = jm.scheduler_kwargs(validated)
    assert kw == jm.scheduler_kwargs(raw)
    ref = Ref(Optimizer([{"lr": 0.0, "weight_decay": 0.0}]), **kw)
    ours = jm.from_args(validated, [{"lr": 0.0, "weight_decay": 0.0}])
    _agree(ref, ours, 0)
    for _ in range(1010):
        ref.step(512)
        ours.step(512)
    _agree(ref, ours, "end")
    with pytest.raises(ValueError, match=r"start_weight_decay == end_weight_decay as "
                                         r"validate_args sets them, got start_weight_decay=0.0"):
        jm.scheduler_kwargs(dict(validated, start_weight_decay=0.0))
