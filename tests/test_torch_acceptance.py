"""Configurations torch accepts and steps through, which jaxsched once refused (issue 20):
growth factors (LR range tests), an ``eta_min`` above the lr, swapped CyclicLR bounds and
momenta, momenta outside [0, 1], OneCycleLR div factors below 1. Each is run live in torch
2.13 and compared three ways (jaxsched's pure schedule in float64 and float32, its adapter,
torch, and the exact value of torch's formula), state dict included."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import jaxsched
from jaxsched.tools import parity

from helpers import require

torch = require("torch")
generate = pytest.importorskip("generate_torch")
optimizers = pytest.importorskip("optimizers")

# (id, class, kwargs, optimizer, lrs, momenta, steps)
ACCEPTED = [
    ("StepLR-growth-range-test", "StepLR", dict(step_size=25, gamma=1.6), "SGD",
     [1e-7, 3e-6], [0.9, 0.8], 600),
    ("MultiStepLR-growth", "MultiStepLR", dict(milestones=[100, 250, 250, 400], gamma=3.0),
     "Adam", [1e-4], [0.9], 500),
    ("ExponentialLR-range-test", "ExponentialLR", dict(gamma=1.02), "SGD", [1e-7], [0.9], 1000),
    ("CosineAnnealingLR-eta-above-lr", "CosineAnnealingLR", dict(T_max=150, eta_min=0.3),
     "SGD", [0.01, 0.05], [0.9, 0.9], 700),
    ("CosineAnnealingWarmRestarts-eta-above-lr", "CosineAnnealingWarmRestarts",
     dict(T_0=50, T_mult=2, eta_min=0.2), "Adam", [0.01], [0.9], 400),
    ("CyclicLR-swapped-bounds", "CyclicLR", dict(base_lr=0.1, max_lr=0.004, step_size_up=120,
                                                 step_size_down=80), "SGD", [0.1], [0.9], 900),
    ("CyclicLR-momenta-outside-unit", "CyclicLR",
     dict(base_lr=1e-3, max_lr=0.05, step_size_up=100, base_momentum=1.2, max_momentum=-0.3),
     "SGD", [0.05], [0.9], 450),
    ("CyclicLR-exp-range-growth", "CyclicLR",
     dict(base_lr=1e-3, max_lr=0.01, step_size_up=200, mode="exp_range", gamma=1.001,
          base_momentum=0.95, max_momentum=0.85), "Adam", [0.01], [0.9], 1200),
    ("OneCycleLR-momenta-swapped-above-one", "OneCycleLR",
     dict(max_lr=0.1, total_steps=1000, base_momentum=0.99, max_momentum=1.05), "SGD", [0.1],
     [0.9], 1001),
    ("OneCycleLR-div-below-one", "OneCycleLR",
     dict(max_lr=0.1, total_steps=800, div_factor=0.5, final_div_factor=0.25,
          anneal_strategy="linear", three_phase=True), "Adam", [0.1], [0.9], 801),
]


# a negative gamma: torch multiplies it in as it is, so its lrs alternate in sign (the
# recursion's and the closed form's gamma ** n agree); jaxsched warns once, naming it
NEGATIVE_GAMMA = [
    ("StepLR-negative-gamma", "StepLR", dict(step_size=7, gamma=-0.8), "SGD", [0.1, 0.03],
     [0.9, 0.9], 300),
    ("StepLR-negative-growth", "StepLR", dict(step_size=3, gamma=-1.3), "Adam", [1e-4], [0.9],
     200),
    ("MultiStepLR-negative-gamma", "MultiStepLR", dict(milestones=[0, 10, 40, 40, 90],
                                                       gamma=-0.5), "SGD", [0.1], [0.9], 150),
    ("ExponentialLR-negative-gamma", "ExponentialLR", dict(gamma=-0.97), "SGD", [0.1, 0.2],
     [0.9, 0.9], 500),
    ("ExponentialLR-negative-one", "ExponentialLR", dict(gamma=-1.0), "Adam", [0.01], [0.9],
     100),
    ("ExponentialLR-zero", "ExponentialLR", dict(gamma=0.0), "SGD", [0.1], [0.9], 20),
]


@pytest.mark.parametrize(("cls", "kwargs", "optimizer", "lrs", "moms", "steps"),
                         [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted_configuration_matches_torch(cls, kwargs, optimizer, lrs, moms, steps):
    _matches_torch(cls, kwargs, optimizer, lrs, moms, steps)


@pytest.mark.parametrize(("cls", "kwargs", "optimizer", "lrs", "moms", "steps"),
                         [c[1:] for c in NEGATIVE_GAMMA], ids=[c[0] for c in NEGATIVE_GAMMA])
def test_negative_gamma_alternates_as_torch(cls, kwargs, optimizer, lrs, moms, steps):
    """Compared live in both dtypes and the adapter (state dict included), against torch and
    the exact ``lr * gamma ** n``; float32 within 2e-6 of the largest |lr|."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lr = _matches_torch(cls, kwargs, optimizer, lrs, moms, steps)
    if kwargs["gamma"] < 0:
        assert np.min(lr) < 0 < np.max(lr)
        assert caught and all(re.search(r"gamma=-[\d.]+ is negative, so the schedule's lrs "
                                        r"alternate in sign", str(w.message)) for w in caught)
    else:
        assert not caught


def test_negative_gamma_warns_once_per_adapter():
    groups = [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}]
    with pytest.warns(UserWarning, match=r"jaxsched\.ExponentialLR: gamma=-0\.5 is negative") \
            as record:
        sched = jaxsched.ExponentialLR(groups, gamma=-0.5)
    assert len(record) == 1
    sched.step()
    assert sched.get_last_lr() == [-0.05, -0.1, -0.15]
    with pytest.warns(UserWarning, match=r"jaxsched\.step_lr: gamma=-2\.0") as record:
        s = jaxsched.step_lr(2, gamma=-2.0, lr=1.0)
    assert len(record) == 1
    assert [float(s(k)) for k in range(7)] == [1.0, 1.0, -2.0, -2.0, 4.0, 4.0, -8.0]


def _matches_torch(cls, kwargs, optimizer, lrs, moms, steps):
    groups = optimizers.torch_groups(optimizer, lrs, moms)
    case = dict(cls=cls, kwargs=kwargs, optimizer=optimizer, groups=groups,
                steps=list(range(steps)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves = generate.record(case)
    case = dict(name="live", **{"class": cls}, kwargs=kwargs, optimizer=optimizer,
                groups=groups, **curves)
    assert np.all(np.isfinite(np.asarray(case["lr"])))
    errors = parity.case_errors(case)
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    if cls in ("CyclicLR", "OneCycleLR"):
        assert {"pure64.momentum", "pure32.momentum", "adapter.momentum"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad
    mismatches = parity.state_mismatches(parity.adapter_state(case), case["state_dict"],
                                        scale=parity.case_peak(case),
                                        exact=parity.case_state_exact(case))
    assert not mismatches, mismatches
    return case["lr"]


def test_growth_overflows_to_inf_where_torch_does():
    """ExponentialLR(gamma=2) from lr 1: torch's lr passes float64's range at step 1024;
    jaxsched's float64 schedule and adapter turn inf at the same step, finite before."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    ref = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=2.0)
    ours = jaxsched.ExponentialLR(1.0, gamma=2.0)
    ref_lrs, our_lrs = [opt.param_groups[0]["lr"]], [ours.get_last_lr()[0]]
    for _ in range(1030):
        opt.step()
        ref.step()
        ours.step()
        ref_lrs.append(opt.param_groups[0]["lr"])
        our_lrs.append(ours.get_last_lr()[0])
    first_inf = [next(i for i, v in enumerate(c) if math.isinf(v)) for c in (ref_lrs, our_lrs)]
    assert first_inf == [1024, 1024]
    assert our_lrs[:1024] == ref_lrs[:1024]  # powers of two: exact both ways
    import jax

    with jax.enable_x64(True):
        assert float(jaxsched.exponential_lr(2.0, lr=1.0)(1024)) == math.inf


def test_negative_div_factor_warns_once_naming_it():
    with pytest.warns(UserWarning, match=r"jaxsched\.one_cycle_lr: div_factor=-2\.0 is "
                                         r"negative") as record:
        jaxsched.one_cycle_lr(0.1, 100, div_factor=-2.0)
    assert len(record) == 1


def _cawr_pair(T_0, T_mult, eta_min):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min)
    ours = jaxsched.CosineAnnealingWarmRestarts([{"lr": 0.1, "momentum": 0.9}], T_0, T_mult,
                                                eta_min)
    return opt, ref, ours


@pytest.mark.parametrize(("T_0", "T_mult", "eta_min", "iters"),
                         [(10, 1, 1e-4, 37), (3, 2, 0.0, 50), (5, 3, 0.2, 13)],
                         ids=["mult1", "mult2", "mult3-eta-above-lr"])
def test_warm_restarts_fractional_epochs_match_torch(T_0, T_mult, eta_min, iters):
    """torch's docstring usage, step(epoch + i / iters), then plain steps, and the state dict
    moved both ways mid-run: identical lrs and state dicts (the same float formula)."""
    opt, ref, ours = _cawr_pair(T_0, T_mult, eta_min)
    epochs = 3 * T_0 * T_mult
    for epoch in range(epochs):
        for i in range(iters):
            ref.step(epoch + i / iters)
            ours.step(epoch + i / iters)
            assert ours.get_last_lr() == ref.get_last_lr()
            assert ours.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
        if epoch == epochs // 2:
            state = ref.state_dict()
            assert parity.state_mismatches(ours.state_dict(), parity.plain_state(state)) == []
            _, _, resumed = _cawr_pair(T_0, T_mult, eta_min)
            resumed.load_state_dict(state)  # torch -> jaxsched, fractional T_cur
            opt2, ref2, _ = _cawr_pair(T_0, T_mult, eta_min)
            opt2.param_groups[0]["lr"] = ours.get_last_lr()[0]
            ref2.load_state_dict(ours.state_dict())  # jaxsched -> torch
            for _ in range(2 * T_0 + 1):  # plain steps from a fractional position
                for s in (ref, ours, resumed, ref2):
                    s.step()
                assert ours.get_last_lr() == ref.get_last_lr() == resumed.get_last_lr() \
                    == ref2.get_last_lr()
                assert ours.state_dict()["T_cur"] == ref.state_dict()["T_cur"]


def test_warm_restarts_refuses_a_position_off_the_schedule():
    sched = jaxsched.CosineAnnealingWarmRestarts(0.1, T_0=3, T_mult=2)
    bad = dict(sched.state_dict(), last_epoch=4, T_cur=1.5, T_i=5)
    with pytest.raises(ValueError, match=r"T_cur=1.5, T_i=5 are no position of this schedule"):
        sched.load_state_dict(bad)
    assert sched.last_epoch == 0
    with pytest.raises(ValueError, match=r"Expected non-negative epoch, but got -0.5"):
        sched.step(-0.5)
    with pytest.raises(TypeError, match=r"epoch must be an integer, got '1.5'"):
        sched.step("1.5")


def _warmup_then_step(epoch):
    """A typical torch lambda: Python if/else on the epoch."""
    if epoch < 50:
        return (epoch + 1) / 50
    return 0.5 ** ((epoch - 50) // 100)


def _cosine_math(epoch):
    return 0.5 * (1 + math.cos(math.pi * min(epoch, 400) / 400))


_TABLE = {0: 1.0, 100: 0.3, 250: 0.1}


def _lookup(epoch):
    return max(v for k, v in _TABLE.items() if k <= epoch)


def _shrink(epoch):
    return 0.999 if epoch % 7 else 0.95


@pytest.mark.parametrize(("cls", "fns"), [
    ("LambdaLR", [_warmup_then_step, _cosine_math]),
    ("LambdaLR", _lookup),
    ("MultiplicativeLR", [_shrink, _shrink]),
    ("MultiplicativeLR", lambda e: 1.0 if e < 30 else math.exp(-0.01)),
], ids=["lambda-if-else-and-math", "lambda-lookup", "multiplicative-modulo",
        "multiplicative-python-lambda"])
def test_python_callables_run_on_the_host_as_torch(cls, fns):
    """Untraceable lambdas: the adapter calls them on the host, exactly torch's values at
    every step, and the state dict both ways; the pure schedule tabulates them over a
    horizon (float64 and float32)."""
    groups = [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.02, "momentum": 0.9}]
    params = [dict(g, params=[torch.nn.Parameter(torch.zeros(1))]) for g in groups]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    ref = getattr(torch.optim.lr_scheduler, cls)(opt, fns)
    ours = getattr(jaxsched, cls)(groups, fns)
    torch_lrs = [ref.get_last_lr()]
    for k in range(600):
        assert ours.get_last_lr() == ref.get_last_lr(), k
        if k == 300:
            resumed = getattr(jaxsched, cls)(groups, fns)
            resumed.load_state_dict(ref.state_dict())
            assert resumed.state_dict() == ours.state_dict()
        opt.step()
        ref.step()
        ours.step()
        torch_lrs.append(ref.get_last_lr())
    factory = jaxsched.lambda_lr if cls == "LambdaLR" else jaxsched.multiplicative_lr
    one = fns[1] if isinstance(fns, list) else fns
    import jax

    for x64 in (True, False):
        with jax.enable_x64(x64):
            s = factory(one, lr=0.02, horizon=600)
            got = np.asarray(jax.jit(jax.vmap(s))(np.arange(601)), np.float64)
        want = np.array([lrs[1] for lrs in torch_lrs])
        if x64:
            assert list(got) == list(want)
        else:
            assert np.max(np.abs(got - want)) <= 2e-6 * np.max(want)
    assert math.isnan(float(s(601)))


def test_untraceable_lambda_without_horizon_says_how():
    with pytest.raises(TypeError, match=r"jaxsched\.lambda_lr: lr_lambda must be a "
                                        r"jnp-traceable .*pass horizon=N to tabulate it"):
        jaxsched.lambda_lr(_warmup_then_step, lr=0.1)


def test_multiplicative_never_calls_the_lambda_before_the_first_step():
    calls = []

    def spy(epoch):  # untraceable (if on the epoch): called on the host
        calls.append(epoch)
        return 0.9 if epoch > 0 else float("nan")

    sched = jaxsched.MultiplicativeLR(0.1, spy)
    assert sched.get_last_lr() == [0.1]
    sched.step()
    assert sched.get_last_lr() == [0.1 * 0.9]
    assert [c for c in calls if isinstance(c, int)] == [1]  # (a tracer may probe it)


def test_composites_refuse_children_of_another_optimizer_as_torch_does():
    param = torch.nn.Parameter(torch.zeros(1))
    opt, other = (torch.optim.SGD([param], lr=0.1), torch.optim.SGD([param], lr=0.5))
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same"):
        torch.optim.lr_scheduler.SequentialLR(
            opt, [torch.optim.lr_scheduler.ConstantLR(other, 0.5, 2),
                  torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)], [2])
    with pytest.raises(ValueError, match=r"jaxsched\.SequentialLR: schedulers\[0\] "
                                         r"\(ConstantLR\) was built on an optimizer with lrs "
                                         r"\[0\.5\], not this one's \[0\.1\]; torch expects"):
        jaxsched.SequentialLR(0.1, [jaxsched.ConstantLR(0.5, 0.5, 2),
                                    jaxsched.ExponentialLR(0.1, 0.9)], [2])
    with pytest.raises(ValueError, match=r"jaxsched\.ChainedScheduler: schedulers\[1\] "
                                         r"\(ExponentialLR\) was built on an optimizer"):
        jaxsched.ChainedScheduler([jaxsched.ConstantLR(0.1, 0.5, 2),
                                   jaxsched.ExponentialLR(0.2, 0.9)])
    with pytest.raises(ValueError, match=r"jaxsched\.ChainedScheduler: schedulers\[0\] "
                                         r"\(ConstantLR\) was built on an optimizer"):
        jaxsched.ChainedScheduler([jaxsched.ConstantLR(0.1, 0.5, 2)], optimizer=0.3)
    jaxsched.ChainedScheduler([jaxsched.ConstantLR(0.1, 0.5, 2)], optimizer=0.1)  # the same


def test_cyclic_load_state_dict_adopts_mode_scale_and_sizes_as_torch():
    """torch's load is an update of the scheduler's attributes: a CyclicLR built with other
    settings takes the dict's mode, gamma, scale_mode, lrs, sizes and momenta."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.CyclicLR(opt, 0.002, 0.05, step_size_up=40,
                                            step_size_down=60, mode="exp_range", gamma=0.998,
                                            base_momentum=0.8, max_momentum=0.95)
    for _ in range(130):
        opt.step()
        ref.step()
    ours = jaxsched.CyclicLR([{"lr": 0.1, "momentum": 0.9}], 0.01, 0.1, step_size_up=10)
    before = ours.state_dict()
    bad = dict(ref.state_dict(), step_ratio=0.123456)
    with pytest.raises(ValueError, match=r"CyclicLR\.load_state_dict: .*step_ratio=0\.123456"):
        ours.load_state_dict(bad)
    assert ours.state_dict() == before
    ours.load_state_dict(ref.state_dict())
    for _ in range(300):
        assert ours.get_last_lr()[0] == pytest.approx(ref.get_last_lr()[0], rel=1e-12)
        assert ours.param_groups[0]["momentum"] == pytest.approx(opt.param_groups[0]["momentum"],
                                                                 rel=1e-12)
        opt.step()
        ref.step()
        ours.step()
    assert parity.state_mismatches(ours.state_dict(), parity.plain_state(ref.state_dict()),
                                   scale=0.05) == []


def test_plateau_load_state_dict_adopts_settings_as_torch():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2,
                                                     threshold=0.01, threshold_mode="abs",
                                                     cooldown=1, min_lr=0.004)
    rng = np.random.default_rng(3)
    metrics = list(np.cumsum(rng.normal(0.0, 1.0, 200)) * 0.01)
    for m in metrics[:20]:
        opt.step()
        ref.step(m)
    ours = jaxsched.ReduceLROnPlateau(0.1)  # torch's defaults: mode min, factor 0.1, ...
    bad = dict(ref.state_dict(), mode_worse=math.inf)
    with pytest.raises(ValueError, match=r"mode_worse=inf does not fit mode='max'"):
        ours.load_state_dict(bad)
    assert ours.state_dict()["mode"] == "min"
    ours.load_state_dict(ref.state_dict())
    for m in metrics[20:]:
        opt.step()
        ref.step(m)
        ours.step(m)
        assert ours.get_last_lr() == ref.get_last_lr()
    assert parity.state_mismatches(parity.plain_state(ours.state_dict()),
                                   parity.plain_state(ref.state_dict()), scale=0.1) == []
