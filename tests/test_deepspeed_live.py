"""Live parity: random valid configurations run through the real DeepSpeed 0.19.8 and through
jaxsched (pure functions in float64 and float32, adapters), momentum included; and
``state_dict`` moving both ways between the two mid-run."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxsched
from jaxsched.tools import parity

from helpers import require

lrs = require("deepspeed.runtime.lr_schedules")
generate = pytest.importorskip("generate_deepspeed")

# XLA on CPU flushes subnormal floats to zero and Python does not: values whose results could
# fall below float64's smallest normal (2.2e-308) are out of scope (see the README).
unit = st.one_of(st.just(0.0), st.floats(1e-100, 1.0))
lr = st.floats(1e-6, 1.0)


@st.composite
def groups_and_optimizer(draw):
    n = draw(st.integers(1, 2))
    optimizer = draw(st.sampled_from(["SGD", "Adam"]))
    moms = [draw(st.floats(0.5, 0.99)) for _ in range(n)]
    return n, optimizer, generate.torch_groups(optimizer, [draw(lr) for _ in range(n)], moms)


def per_group(draw, n, strategy):
    """A scalar, or (sometimes, with 2 groups) a per-group list."""
    if n > 1 and draw(st.booleans()):
        return [draw(strategy) for _ in range(n)]
    return draw(strategy)


def ordered_pair(draw, n, strategy):
    pairs = [sorted((draw(strategy), draw(strategy))) for _ in range(n)]
    if n == 1 or draw(st.booleans()):
        return pairs[0][0], pairs[0][1]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@st.composite
def lr_range_test_config(draw, n):
    return dict(lr_range_test_min_lr=per_group(draw, n, lr),
                lr_range_test_step_size=draw(st.integers(1, 40)),
                lr_range_test_step_rate=draw(st.floats(0.0, 10.0)),
                lr_range_test_staircase=draw(st.booleans())), 120


@st.composite
def one_cycle_config(draw, n):
    min_lr, max_lr = ordered_pair(draw, n, lr)
    min_mom, max_mom = ordered_pair(draw, n, st.floats(0.5, 0.99))
    s1 = draw(st.integers(1, 25))
    s2 = draw(st.one_of(st.none(), st.integers(0, 25)))
    kwargs = dict(cycle_min_lr=min_lr, cycle_max_lr=max_lr, cycle_first_step_size=s1,
                  cycle_second_step_size=s2,
                  cycle_first_stair_count=draw(st.integers(0, 6)),
                  cycle_second_stair_count=draw(st.one_of(st.none(), st.integers(0, 6))),
                  decay_step_size=draw(st.integers(0, 10)),
                  decay_lr_rate=draw(st.one_of(st.just(0.0), st.floats(0.0, 2.0))),
                  decay_mom_rate=draw(st.one_of(st.just(0.0), st.floats(0.0, 0.01))),
                  cycle_momentum=draw(st.booleans()), cycle_min_mom=min_mom,
                  cycle_max_mom=max_mom)
    return kwargs, s1 + (s1 if s2 is None else s2) + 30


def warmup_common(draw, n):
    return dict(warmup_num_steps=draw(st.integers(1, 30)),
                warmup_type=draw(st.sampled_from(["log", "linear"])))


@st.composite
def warmup_lr_config(draw, n):
    kwargs = warmup_common(draw, n)
    min_lr, max_lr = ordered_pair(draw, n, lr)
    kwargs.update(warmup_min_lr=min_lr, warmup_max_lr=max_lr)
    if draw(st.booleans()):  # inherit the optimizer's lr (min 0 keeps min <= max)
        kwargs.update(warmup_min_lr=0.0, warmup_max_lr=None)
    return kwargs, kwargs["warmup_num_steps"] + 10


@st.composite
def warmup_decay_lr_config(draw, n):
    kwargs, _ = draw(warmup_lr_config(n))
    total = max(2, kwargs["warmup_num_steps"]) + draw(st.integers(0, 40))
    return dict(kwargs, total_num_steps=total), total + 10


@st.composite
def warmup_cosine_lr_config(draw, n):
    kwargs = warmup_common(draw, n)
    total = max(2, kwargs["warmup_num_steps"]) + draw(st.integers(0, 40))
    kwargs.update(total_num_steps=total, warmup_min_ratio=draw(unit),
                  cos_min_ratio=draw(unit))
    return kwargs, total + 10


CONFIGS = {"LRRangeTest": lr_range_test_config, "OneCycle": one_cycle_config,
           "WarmupLR": warmup_lr_config, "WarmupDecayLR": warmup_decay_lr_config,
           "WarmupCosineLR": warmup_cosine_lr_config}


@pytest.mark.parametrize("cls", sorted(CONFIGS))
@given(data=st.data())
def test_random_config_matches_deepspeed(cls, data):
    """One random configuration feeds both checks: the run against DeepSpeed (float64,
    float32, the adapter, far counts), then ``from_torch`` taken mid-run."""
    n, optimizer, groups = data.draw(groups_and_optimizer())
    kwargs, n_steps = data.draw(CONFIGS[cls](n))
    far = data.draw(st.lists(st.integers(n_steps, 2**31 - 1), max_size=2))
    steps = list(range(n_steps)) + far
    case = dict(name="live", **{"class": cls}, kwargs=kwargs, optimizer=optimizer,
                groups=groups, **generate.record(cls, kwargs, optimizer, groups, steps))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "jaxsched.OneCycle: cycle_momentum is disabled")
        errors = parity.case_errors(case)
    if cls == "OneCycle" and kwargs["cycle_momentum"] and optimizer == "Adam":
        assert {"pure64.momentum", "pure32.momentum", "adapter.momentum"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, (bad, kwargs)
    check_from_torch(cls, kwargs, optimizer, groups, at=data.draw(st.integers(0, n_steps)))


ROUND_TRIP = {
    "LRRangeTest": dict(lr_range_test_min_lr=0.01, lr_range_test_step_size=3,
                        lr_range_test_staircase=True),
    "OneCycle": dict(cycle_min_lr=0.01, cycle_max_lr=0.1, cycle_first_step_size=4,
                     cycle_second_step_size=6, decay_lr_rate=0.1, decay_step_size=2),
    "WarmupLR": dict(warmup_max_lr=0.1, warmup_num_steps=6),
    "WarmupDecayLR": dict(total_num_steps=15, warmup_max_lr=0.1, warmup_num_steps=5),
    "WarmupCosineLR": dict(total_num_steps=15, warmup_num_steps=5, warmup_min_ratio=0.1),
}


def both(cls, kwargs):
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=0.05)
    ref = getattr(lrs, cls)(opt, **kwargs)
    ours = getattr(jaxsched, cls)([{"lr": 0.05, "betas": (0.9, 0.999)}], **kwargs)
    return opt, ref, ours


def assert_same(opt, ours):
    got, want = ours.param_groups[0], opt.param_groups[0]
    assert got["lr"] == pytest.approx(want["lr"], rel=1e-12, abs=0)
    assert got["betas"][0] == pytest.approx(want["betas"][0], rel=1e-12, abs=0)
    assert got["betas"][1] == want["betas"][1]


@pytest.mark.parametrize("cls", sorted(ROUND_TRIP))
@pytest.mark.parametrize("at", [0, 3, 9, 25])
def test_state_dict_from_deepspeed_resumes_here(cls, at):
    opt, ref, _ = both(cls, ROUND_TRIP[cls])
    for _ in range(at):
        ref.step()
    _, _, ours = both(cls, ROUND_TRIP[cls])
    ours.load_state_dict(ref.state_dict())
    assert ours.state_dict() == ref.state_dict()
    for _ in range(20):
        ref.step()
        ours.step()
        assert_same(opt, ours)


@pytest.mark.parametrize("cls", sorted(ROUND_TRIP))
@pytest.mark.parametrize("at", [0, 3, 9, 25])
def test_state_dict_from_here_resumes_in_deepspeed(cls, at):
    _, _, ours = both(cls, ROUND_TRIP[cls])
    for _ in range(at):
        ours.step()
    opt, ref, _ = both(cls, ROUND_TRIP[cls])
    ref.load_state_dict(ours.state_dict())
    assert ref.state_dict() == ours.state_dict()
    for _ in range(20):
        ref.step()
        ours.step()
        assert_same(opt, ours)


def check_from_torch(cls, kwargs, optimizer, groups, at):
    """A live DeepSpeed scheduler at step ``at`` becomes the same jaxsched adapter (on
    test_random_config_matches_deepspeed's draws)."""
    opt = generate.make_optimizer(optimizer, groups)
    ref = getattr(lrs, cls)(opt, **kwargs)
    for _ in range(at):
        ref.step()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "jaxsched.OneCycle: cycle_momentum is disabled")
        ours = jaxsched.from_torch(ref)
    assert ours.state_dict() == ref.state_dict()
    lr_curves, moms = ([], []), ([], [])
    for _ in range(10):
        lr_curves[0].append(ours.get_last_lr())
        lr_curves[1].append([g["lr"] for g in opt.param_groups])
        if ours.cycles_momentum:
            moms[0].append(ours.get_last_momentum())
            moms[1].append([g["betas"][0] for g in opt.param_groups])
        ref.step()
        ours.step()
    # a window of the curve: its peak is at least the largest lr the run was built with
    peak = max(max(g["lr"] for g in groups), max(max(row) for row in lr_curves[1]))
    assert parity.compare(*lr_curves, peak=peak).ok(x64=True)
    if ours.cycles_momentum:
        assert parity.compare(*moms).ok(x64=True)
