"""timm 1.0.31, live: random configurations at realistic scales (phases of 1 to 10**6 steps,
counts up to 2**31-1) through the real ``timm.scheduler`` and through jaxsched (pure in
float64 and float32, judged against the exact oracle by the three-way rule), the adapters
stepped as timm's train.py steps them, ``state_dict`` both ways, and ``create_scheduler_v2``
/ ``create_scheduler`` on the configurations timm itself builds."""

from __future__ import annotations

import argparse
import logging
import warnings

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxsched import timm as jt
from jaxsched.tools import oracle, parity

from helpers import require, require_timm

torch = require("torch")
ts = require_timm()
logging.getLogger("timm").setLevel(logging.ERROR)  # "will have no effect" warnings

PHASE = st.one_of(st.integers(1, 100), st.integers(1, 10**6))
LR = st.floats(1e-8, 10.0)
FRACTION = st.one_of(st.just(0.0), st.floats(1e-6, 1.0))
CYCLE_MUL = st.one_of(st.just(1.0), st.sampled_from([1.5, 2.0, 3.0]), st.floats(1.1, 4.0))
K_DECAY = st.one_of(st.just(1.0), st.floats(0.2, 3.0))


def warmup(draw, lr):
    w = draw(st.one_of(st.just(0), PHASE))
    return dict(warmup_t=w, warmup_lr_init=lr * draw(FRACTION))


def cycles(draw):
    return dict(t_initial=draw(PHASE), cycle_mul=draw(CYCLE_MUL),
                cycle_decay=draw(st.one_of(st.just(1.0), st.floats(0.0, 1.0))),
                cycle_limit=draw(st.integers(0, 6)))


@st.composite
def config(draw, name):
    lr = draw(LR)
    kw = warmup(draw, lr)
    noise_on = draw(st.integers(0, 3))
    if name in ("CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"):
        kw.update(cycles(draw), lr_min=lr * draw(FRACTION),
                  warmup_prefix=draw(st.booleans()))
        if name != "TanhLRScheduler":
            kw["k_decay"] = draw(K_DECAY)
        if name == "TanhLRScheduler":
            lb = draw(st.floats(-10.0, 2.0))
            kw.update(lb=lb, ub=lb + draw(st.floats(0.5, 10.0)))
        if name == "PolyLRScheduler":
            kw["power"] = draw(st.one_of(st.just(0.5), st.floats(0.0, 4.0)))
    elif name == "StepLRScheduler":
        kw.update(decay_t=draw(st.one_of(PHASE, st.floats(0.5, 1e4))),
                  decay_rate=draw(st.floats(0.0, 1.0)), warmup_prefix=draw(st.booleans()))
    elif name == "MultiStepLRScheduler":
        ms = draw(st.lists(st.one_of(st.integers(0, 10**6), st.floats(0.0, 1e6)),
                           max_size=4))
        kw.update(decay_t=sorted(ms), decay_rate=draw(st.floats(0.0, 1.0)),
                  warmup_prefix=draw(st.booleans()))
    else:  # WSD
        total = draw(PHASE)
        stable = draw(st.sampled_from(jt.wsd.STABLE_FNS))
        kw.update(t_initial=total, decay_t=draw(st.integers(1, total)),
                  lr_min=lr * draw(FRACTION), stable_fn=stable,
                  decay_fn=draw(st.sampled_from(jt.wsd.DECAY_FNS)),
                  decay_power=draw(st.floats(0.2, 4.0)), decay_ratio=draw(st.floats(0.01, 0.9)),
                  stable_power=draw(st.floats(0.1, 2.0)))
        if stable != "constant" and (kw["warmup_t"] == 0 or draw(st.booleans())):
            kw["stable_timescale"] = draw(st.floats(1.0, 1e5))
    if noise_on == 0:  # timm's lr noise: a start or a [start, end) pair, seeded per step
        start = draw(st.integers(0, 10**6))
        std = draw(st.floats(0.1, 1.5))
        kw.update(noise_range_t=draw(st.sampled_from(
                      [start, [start, start + draw(st.integers(1, 10**6))]])),
                  noise_std=std, noise_pct=std * draw(st.floats(0.3, 2.0)),
                  noise_seed=draw(st.integers(0, 2**40)))
    return lr, kw


FACTORIES = {"CosineLRScheduler": jt.cosine_lr, "TanhLRScheduler": jt.tanh_lr,
             "PolyLRScheduler": jt.poly_lr, "StepLRScheduler": jt.step_lr,
             "MultiStepLRScheduler": jt.multistep_lr, "WSDLRScheduler": jt.wsd_lr}


def steps_for(kw, rng):
    """Step 0, each phase boundary -1/0/+1, random steps over the first cycles, far counts."""
    w = kw.get("warmup_t", 0)
    marks = [0, 1, w - 1, w, w + 1]
    rng_t = kw.get("noise_range_t")
    for b in ([] if rng_t is None else rng_t if isinstance(rng_t, list) else [rng_t]):
        marks += [b - 1, b, b + 1]
    for key in ("t_initial", "decay_t"):
        v = kw.get(key)
        for b in ([v] if not isinstance(v, list) else v) if v is not None else []:
            for shift in (0, w):
                marks += [int(b) + shift + d for d in (-2, -1, 0, 1)]
    span = max(m for m in marks) * 3 + 10
    marks += list(rng.integers(0, span, 20)) + list(rng.integers(0, 2**31, 3))
    marks += [2**31 - 2, 2**31 - 1]
    return sorted({int(m) for m in marks if 0 <= m <= 2**31 - 1})


def timm_curve(name, lr, kw, steps, groups=None):
    """The lr timm puts in force at each step: the construction value at 0, then
    ``step_update(t)`` (timm's schedulers are stateless in ``t``)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = getattr(ts, name)(opt, t_in_epochs=False, **kw)
    out = [opt.param_groups[0]["lr"]]
    for t in steps[1:] if steps[0] == 0 else steps:
        sched.step_update(t)
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out if steps[0] == 0 else out[1:])


@pytest.mark.parametrize("name", sorted(FACTORIES))
@settings(max_examples=15)  # x 6 classes x ~60 steps, both dtypes, oracle and live timm
@given(data=st.data())
def test_random_config_matches_timm_and_exact(name, data):
    lr, kw = data.draw(config(name))
    steps = steps_for(kw, np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))))
    ref = timm_curve(name, lr, kw, steps)
    with jax.enable_x64(True):
        s64 = FACTORIES[name](lr=lr, **kw)
        ours64 = np.asarray(jax.jit(jax.vmap(s64))(np.asarray(steps, np.int64)))
    exact = oracle.exact_values(s64, steps)
    verdict = parity.judge(ours64, exact, ref, x64=True, peak=lr, steps=steps)
    assert verdict.ok, (kw, verdict)
    with jax.enable_x64(False):
        s32 = FACTORIES[name](lr=lr, **kw)
        ours32 = np.asarray(jax.jit(jax.vmap(s32))(np.asarray(steps, np.int32)))
    verdict = parity.judge(ours32, exact, x64=False, peak=max(lr, kw["warmup_lr_init"]),
                           steps=steps)
    assert verdict.ok, (kw, verdict)


@pytest.mark.parametrize("case", [
    "cosine_cycle_mul_3_boundary", "tanh_no_warmup_step_zero", "multistep_milestone_1"])
def test_named_quirks(case):
    """Where timm's float64 arithmetic or its construction differs from its formula."""
    with jax.enable_x64(True):
        if case == "cosine_cycle_mul_3_boundary":
            # cycles start at 5 (3**j - 1) / 2 = 0, 5, 20, 65, 200, 605: timm's
            # floor(log(1 + 2 t / 5, 3)) puts step 605 at the end of cycle 4 (lr_min = 0);
            # exactly, it starts cycle 5 at the peak. Ours is exact there.
            kw = dict(t_initial=5, cycle_mul=3.0, cycle_limit=6)
            s = jt.cosine_lr(lr=1.0, **kw)
            steps = [604, 605, 606]
            ref = timm_curve("CosineLRScheduler", 1.0, kw, steps)
            exact = oracle.exact_values(s, steps)
            assert list(ref) == [pytest.approx(exact[0], rel=1e-12), 0.0,
                                 pytest.approx(exact[2], rel=1e-12)]
            assert exact[1] == 1.0 and float(s(605)) == 1.0
            assert parity.judge([float(s(k)) for k in steps], exact, ref, x64=True).ok
        elif case == "tanh_no_warmup_step_zero":
            s = jt.tanh_lr(t_initial=10, lr=1.0)
            f = jt.tanh_lr(t_initial=10, lr=1.0, step_zero="formula")
            assert float(s(0)) == 1.0 and float(f(0)) == pytest.approx((1 - np.tanh(-7)) / 2)
            assert timm_curve("TanhLRScheduler", 1.0, dict(t_initial=10), [0, 1])[0] == 1.0
        else:  # timm drops one step before each milestone: bisect_right(decay_t, t + 1)
            steps = [0, 1, 2, 3]
            s = jt.multistep_lr(decay_t=[1, 3], decay_rate=0.5, lr=1.0)
            ref = timm_curve("MultiStepLRScheduler", 1.0, dict(decay_t=[1, 3],
                                                               decay_rate=0.5), steps)
            assert [float(s(k)) for k in steps] == list(ref) == [1.0, 0.5, 0.25, 0.25]


def _pair(name, kw, groups, t_in_epochs):
    opt = torch.optim.SGD([dict(params=[torch.nn.Parameter(torch.zeros(1))], **g)
                           for g in groups], lr=groups[0]["lr"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(ts, name)(opt, t_in_epochs=t_in_epochs, **kw)
    return opt, ref, getattr(jt, name)([dict(g) for g in groups], t_in_epochs=t_in_epochs,
                                       **kw)


def _same(opt, ref, ours, where):
    theirs = [g["lr"] for g in opt.param_groups]
    mine = ours.get_last_lr()
    if not np.allclose(mine, theirs, rtol=1e-12, atol=1e-300):  # judge against exact
        k = ours._count
        with jax.enable_x64(True):
            exact = [oracle.exact_values(s, [k])[0] for s in ours.schedules]
        if k == 0 and ours._stepped:  # an explicit step(0): timm's formula at 0
            exact = [float(e) for e in ours.get_last_lr()]
        assert parity.judge(mine, exact, theirs, x64=True).ok, (where, mine, theirs, exact)
    assert parity.state_mismatches(parity.plain_state(ours.state_dict()),
                                   parity.plain_state(ref.state_dict())) == [], where


@st.composite
def small_config(draw, name):
    lr, kw = draw(config(name))
    for key in ("t_initial", "warmup_t"):
        if key in kw:
            kw[key] = min(kw[key], 30) if key == "warmup_t" else max(1, kw[key] % 40)
    if name == "WSDLRScheduler":
        kw["decay_t"] = max(1, min(kw["decay_t"], kw["t_initial"]))
    if isinstance(kw.get("noise_range_t"), list):
        kw["noise_range_t"] = [kw["noise_range_t"][0] % 50, kw["noise_range_t"][0] % 50 + 20]
    elif kw.get("noise_range_t") is not None:
        kw["noise_range_t"] %= 50
    if "lr_min" in kw:  # shared by both groups; the second one's lr is lr / 2
        kw["lr_min"] /= 2
    if name == "StepLRScheduler":
        kw["decay_t"] = max(0.5, kw["decay_t"] % 20)
    if name == "MultiStepLRScheduler":
        kw["decay_t"] = sorted(m % 60 for m in kw["decay_t"])
    return lr, kw


@pytest.mark.parametrize("name", sorted(FACTORIES))
@settings(max_examples=6)  # each example steps 16 epochs of updates through both
@given(data=st.data())
def test_adapter_steps_and_state_dict_match_timm(name, data):
    """timm's train.py: ``step_update(n)`` after each update, ``step(epoch + 1)`` after each
    epoch; two param groups, one with ``lr_scale``; state dicts both ways mid-run."""
    lr, kw = data.draw(small_config(name))
    t_in_epochs = data.draw(st.booleans())
    groups = [{"lr": lr}, {"lr": lr / 2, "lr_scale": data.draw(st.floats(0.1, 1.0))}]
    opt, ref, ours = _pair(name, kw, groups, t_in_epochs)
    per_epoch = data.draw(st.integers(1, 4))
    swap = data.draw(st.integers(0, 15))
    _same(opt, ref, ours, "built")
    n = 0
    for epoch in range(16):
        for _ in range(per_epoch):
            n += 1
            ref.step_update(n, metric=0.5)
            ours.step_update(n, metric=0.5)
            _same(opt, ref, ours, ("update", n))
        ref.step(epoch + 1, 0.25)
        ours.step(epoch + 1, 0.25)
        _same(opt, ref, ours, ("epoch", epoch + 1))
        if epoch == swap:  # timm -> fresh ours, ours -> fresh timm, then continue both
            other = dict(kw, warmup_t=0, warmup_lr_init=0.0)
            if kw.get("stable_fn", "constant") != "constant":
                other["stable_timescale"] = 5.0  # it defaults to warmup_t
            others = [{"lr": 3 * lr}, {"lr": 2 * lr, "lr_scale": groups[1]["lr_scale"]}]
            _, ref2, ours2 = _pair(name, other, others, not t_in_epochs)
            ours2.load_state_dict(ref.state_dict())
            ref2.load_state_dict(ours.state_dict())
            assert parity.state_mismatches(parity.plain_state(ours2.state_dict()),
                                           parity.plain_state(ref.state_dict())) == []
            assert parity.state_mismatches(parity.plain_state(ref2.state_dict()),
                                           parity.plain_state(ours.state_dict())) == []
            ours, ref = ours2, ref2
            opt = ref.optimizer
            ours.step(epoch + 1, 0.25)
            ref.step(epoch + 1, 0.25)
            ours.step_update(n, 0.5)
            ref.step_update(n, 0.5)
            _same(opt, ref, ours, ("swapped", epoch + 1))


TIMM_CONFIGS = [
    dict(sched="cosine", num_epochs=300, warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
    dict(sched="cosine", num_epochs=100, warmup_epochs=3, warmup_prefix=True, cycle_limit=3,
         cycle_mul=2.0, cycle_decay=0.5, cooldown_epochs=10, step_on_epochs=False,
         updates_per_epoch=1251),
    dict(sched="tanh", num_epochs=90, warmup_epochs=2, min_lr=1e-6),
    dict(sched="step", num_epochs=450, decay_epochs=2.4, decay_rate=0.97, warmup_epochs=3,
         warmup_lr=1e-6, step_on_epochs=False, updates_per_epoch=625),
    dict(sched="multistep", num_epochs=90, decay_milestones=[30, 60, 80], warmup_epochs=0),
    dict(sched="poly", num_epochs=100, decay_rate=2.0, min_lr=1e-5, k_decay=0.5),
    dict(sched="constant", num_epochs=50, warmup_epochs=5, warmup_prefix=True),
    dict(sched="wsd", num_epochs=100, warmup_epochs=5, decay_epochs=0.25, min_lr=1e-6),
    dict(sched="rsqrt", num_epochs=100, warmup_epochs=5, decay_epochs=10,
         step_on_epochs=False, updates_per_epoch=100),
]


@pytest.mark.parametrize("kw", TIMM_CONFIGS, ids=lambda kw: kw["sched"])
def test_create_scheduler_v2_matches_timm(kw):
    """The scheduler timm builds from create_scheduler_v2's arguments and ours: same
    state dict, same epoch count, same lr over the run."""
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=5e-4)
    ref, ref_epochs = ts.create_scheduler_v2(opt, **kw)
    initial = opt.param_groups[0]["lr"]
    ours, epochs = jt.create_scheduler_v2(5e-4, **kw)
    assert epochs == ref_epochs
    assert type(ours).__name__ == type(ref).__name__
    assert parity.state_mismatches(parity.plain_state(ours.state_dict()),
                                   parity.plain_state(ref.state_dict())) == []
    assert ours.get_last_lr() == [initial]
    on_epochs = kw.get("step_on_epochs", True)
    per = kw.get("updates_per_epoch", 0) or 1
    with jax.enable_x64(True):
        pure = jt.timm_schedule(5e-4, **dict(kw, updates_per_epoch=per))
        assert float(pure(0)) == pytest.approx(initial, rel=1e-12)
    total = epochs * per
    for k in sorted({1, 2, per - 1, per, per + 1, 5 * per, 5 * per + 1, total // 2,
                     total - 1, total + 7} - {0}):
        t = k // per if on_epochs else k
        (ref.step if on_epochs else ref.step_update)(t)
        (ours.step if on_epochs else ours.step_update)(t)
        theirs = opt.param_groups[0]["lr"]
        if t == 0:  # an explicit step(0) sets the formula at 0, not the construction lr
            continue
        assert ours.get_last_lr() == pytest.approx([theirs], rel=1e-12, abs=1e-300), k
        with jax.enable_x64(True):
            assert float(pure(k)) == pytest.approx(theirs, rel=1e-12, abs=1e-300), k


def test_create_scheduler_from_train_py_args():
    """timm's ``create_scheduler(args, optimizer, updates_per_epoch)`` with a train.py
    Namespace, through ``scheduler_kwargs``."""
    args = argparse.Namespace(sched="cosine", epochs=40, warmup_epochs=2, warmup_lr=1e-6,
                              min_lr=1e-5, lr_cycle_limit=1, sched_on_updates=True,
                              eval_metric="loss")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref, ref_epochs = ts.create_scheduler(args, opt, updates_per_epoch=50)
    ours, epochs = jt.create_scheduler(args, 0.1, updates_per_epoch=50)
    assert (epochs, ours.t_in_epochs) == (ref_epochs, ref.t_in_epochs) == (40, False)
    assert jt.scheduler_kwargs(args) == ts.scheduler_kwargs(args)
    assert parity.state_mismatches(parity.plain_state(ours.state_dict()),
                                   parity.plain_state(ref.state_dict())) == []


CYCLE_CONFIGS = [
    ("CosineLRScheduler", dict(t_initial=300, cycle_limit=3, cycle_mul=1.5, warmup_t=20)),
    ("CosineLRScheduler", dict(t_initial=300, cycle_limit=4, warmup_t=20,
                               warmup_prefix=True)),
    ("CosineLRScheduler", dict(t_initial=1000, cycle_limit=2, cycle_mul=3.0, warmup_t=50,
                               warmup_prefix=True)),
    ("TanhLRScheduler", dict(t_initial=250, cycle_limit=3, cycle_mul=2.0, warmup_t=5)),
    ("PolyLRScheduler", dict(t_initial=400, power=2.0, cycle_limit=5, cycle_mul=1.1,
                             warmup_t=10, warmup_prefix=True)),
    ("WSDLRScheduler", dict(t_initial=900, decay_t=200, warmup_t=100)),
]


@pytest.mark.parametrize("cls,kw", CYCLE_CONFIGS, ids=[f"{c}-{i}" for i, (c, _) in
                                                       enumerate(CYCLE_CONFIGS)])
def test_get_cycle_length_is_timms(cls, kw):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = getattr(ts, cls)(opt, **kw)
    ours = getattr(jt, cls)([{"lr": 0.1}], **kw)
    for cycles in (0, 1, 2, 3, 7, -1, 2.5):
        assert ours.get_cycle_length(cycles) == ref.get_cycle_length(cycles), cycles
    assert ours.get_cycle_length() == ref.get_cycle_length()


def test_tanh_warmup_target_is_exact_in_the_oracle():
    """timm warms a non-prefix tanh schedule up to the formula at ``warmup_t``; the oracle
    evaluates that target at its working precision (it was taken at mpmath's default 15
    digits, where ``1 - tanh(5.67)`` cancels: 1.6e-12 off, found by hypothesis)."""
    kw = dict(warmup_t=2, t_initial=1, cycle_mul=1.5, cycle_limit=2, lb=1.0, ub=8.0)
    with jax.enable_x64(True):
        s = jt.tanh_lr(lr=1.0, **kw)
        exact = oracle.exact_values(s, [1, 2])
        assert float(exact[0]) == pytest.approx(float(exact[1]) / 2, rel=1e-15)
        ours = [float(s(1)), float(s(2))]
    ref = timm_curve("TanhLRScheduler", 1.0, kw, [1, 2])
    assert parity.judge(ours, exact, ref, x64=True, peak=1.0, steps=[1, 2]).ok


@pytest.mark.parametrize("cycle_mul", [1.0, 2.0], ids=["one_cycle", "tabulated_cycles"])
def test_poly_power_below_one_float32_near_cycle_end(cycle_mul):
    """(1 - x)**0.5 magnifies an absolute error in 1 - x near a cycle's end: the remaining
    steps are counted in integers in float32 too (CI draw: t_initial 14691, power 0.5, step
    14690 was 2.7e-6 of the peak off when 1 - x was formed in float32)."""
    t = 14691
    kw = dict(t_initial=t, power=0.5, cycle_mul=cycle_mul, cycle_limit=2)
    ends = [t - 2, t - 1, t, t + 1] + ([3 * t - 2, 3 * t - 1, 3 * t] if cycle_mul == 2 else [])
    ref = timm_curve("PolyLRScheduler", 1.0, kw, ends)
    with jax.enable_x64(True):
        exact = oracle.exact_values(jt.poly_lr(lr=1.0, **kw), ends)
    with jax.enable_x64(False):
        ours32 = np.asarray(jax.jit(jax.vmap(jt.poly_lr(lr=1.0, **kw)))(np.asarray(ends, np.int32)))
    assert parity.judge(ours32, exact, x64=False, peak=1.0, steps=ends).ok
    assert np.max(np.abs(ours32 - np.asarray(exact, float))) < 1e-7
    assert np.max(np.abs(np.asarray(ref) - np.asarray(exact, float))) < 1e-12


UNIFORM_CASES = [
    ("CosineLRScheduler", dict(t_initial=300, lr_min=1e-4, warmup_t=20, cycle_limit=2,
                               noise_range_t=10, noise_pct=0.4, noise_seed=5)),
    ("TanhLRScheduler", dict(t_initial=200, noise_range_t=[50, 400], noise_pct=0.9,
                             noise_seed=2**33 + 7)),
    ("StepLRScheduler", dict(decay_t=30, decay_rate=0.5, noise_range_t=0, noise_pct=-0.3)),
    ("MultiStepLRScheduler", dict(decay_t=[40, 90], decay_rate=0.3, warmup_t=5,
                                  noise_range_t=[0, 150], noise_pct=1.5, noise_seed=0)),
    ("PolyLRScheduler", dict(t_initial=250, power=2.0, noise_range_t=100, noise_pct=0.05,
                             noise_seed=123_456)),
]


@pytest.mark.parametrize(("name", "kw"), UNIFORM_CASES, ids=[c[0] for c in UNIFORM_CASES])
def test_uniform_noise_loaded_from_a_state_dict_matches_timm(name, kw):
    """timm's cycle schedulers take no noise_type argument, but their base class draws
    uniform noise ``2 * (torch.rand(1) - 0.5) * noise_pct`` for any noise_type other than
    'normal', which a loaded state dict sets. The adapter loads it from timm's dict and
    steps as timm; the pure schedule (``noise_type='uniform'``) is judged in both dtypes
    against timm and the exact oracle, far counts included."""
    groups = [{"lr": 0.1}, {"lr": 0.05, "lr_scale": 0.5}]
    built = {k: v for k, v in kw.items() if k != "noise_pct"}  # normal noise's pct, 0.67
    opt, ref, ours = _pair(name, built, groups, False)
    # any finite pct: one uniform draw (normal noise redraws until |noise| < pct)
    state = dict(ref.state_dict(), noise_type="uniform", noise_pct=kw["noise_pct"])
    ref.load_state_dict(state)
    ours.load_state_dict(state)
    assert ours.state_dict()["noise_type"] == "uniform"
    for n in [*range(1, 320), 10**6, 2**31 - 1]:
        ref.step_update(n)
        ours.step_update(n)
        _same(opt, ref, ours, n)
    with pytest.warns(UserWarning, match=r"noise_type 'gaussian' is not 'normal'"):
        ours.load_state_dict(dict(state, noise_type="gaussian"))
    ref.load_state_dict(dict(state, noise_type="gaussian"))
    ref.step_update(77)
    ours.step_update(77)
    _same(opt, ref, ours, "gaussian")
    steps = [*range(0, 400), 2**31 - 2, 2**31 - 1]
    opt1 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = getattr(ts, name)(opt1, t_in_epochs=False, **built)
    sched.load_state_dict(dict(sched.state_dict(), noise_type="uniform",
                               noise_pct=kw["noise_pct"]))
    ref_curve = [opt1.param_groups[0]["lr"]]
    for t in steps[1:]:
        sched.step_update(t)
        ref_curve.append(opt1.param_groups[0]["lr"])
    with jax.enable_x64(True):
        s64 = FACTORIES[name](lr=0.1, noise_type="uniform", **kw)
        ours64 = np.asarray(jax.jit(jax.vmap(s64))(np.asarray(steps, np.int64)))
    exact = oracle.exact_values(s64, steps)
    verdict = parity.judge(ours64, exact, np.asarray(ref_curve), x64=True, steps=steps)
    assert verdict.ok, verdict
    with jax.enable_x64(True):
        quiet = FACTORIES[name](lr=0.1, **dict(kw, noise_range_t=None, noise_pct=0.67))
        assert not np.allclose(ours64, np.asarray(jax.vmap(quiet)(np.asarray(steps))))
    with jax.enable_x64(False):
        s32 = FACTORIES[name](lr=0.1, noise_type="uniform", **kw)
        ours32 = np.asarray(jax.jit(jax.vmap(s32))(np.asarray(steps, np.int32)))
    assert parity.judge(ours32, exact, x64=False, steps=steps).ok


def test_noise_type_is_not_a_constructor_argument_as_in_timm():
    with pytest.raises(TypeError, match=r"jaxsched\.timm\.CosineLRScheduler: unknown "
                                        r"argument 'noise_type'"):
        jt.CosineLRScheduler([{"lr": 0.1}], 10, noise_type="uniform")
    with pytest.raises(TypeError, match=r"jaxsched\.timm\.cosine_lr: noise_type must be a "
                                        r"string"):
        jt.cosine_lr(10, lr=0.1, noise_type=None)
