"""Live parity against the real torch 2.13.0: random valid configurations of all fifteen
schedulers through the pure functions (float64, float32), the plateau transform and the
adapters, momentum included; state_dict moved both ways mid-run; from_torch on every class."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxsched
from jaxsched.tools import oracle, parity

from helpers import require

torch = require("torch")
generate = pytest.importorskip("generate_torch")



def floats(lo, hi):
    """No subnormals: XLA on CPU flushes them to zero (see the README's known limits)."""
    return st.floats(lo, hi, allow_subnormal=False)


lr = floats(1e-5, 1.0)
unit = st.one_of(st.just(0.0), floats(1e-100, 1.0))
gamma = floats(0.5, 1.0)
lambdas = st.sampled_from(sorted(parity.LAMBDAS))


def lam(draw):
    return {"lambda": draw(lambdas)}


def groups_strategy(draw):
    n = draw(st.integers(1, 2))
    optimizer = draw(st.sampled_from(["SGD", "Adam"]))
    return n, optimizer, generate.torch_groups(optimizer, [draw(lr) for _ in range(n)],
                                               [draw(floats(0.5, 0.99)) for _ in range(n)])


def ordered(draw, strategy):
    a, b = draw(strategy), draw(strategy)
    return min(a, b), max(a, b)


def config(draw, cls, n, lr_min=1.0):
    """(kwargs, n_steps, extra case keys) of a random valid configuration of ``cls``;
    ``lr_min`` is the smallest group lr."""
    if cls in ("LambdaLR", "MultiplicativeLR"):
        fns = [lam(draw) for _ in range(n)] if n > 1 and draw(st.booleans()) else lam(draw)
        return {"lr_lambda": fns}, 40, {}
    if cls == "StepLR":
        return {"step_size": draw(st.integers(1, 12)), "gamma": draw(gamma)}, 60, {}
    if cls == "MultiStepLR":
        ms = draw(st.lists(st.integers(0, 40), max_size=6))
        return {"milestones": ms, "gamma": draw(gamma)}, 50, {}
    if cls == "ConstantLR":
        return {"factor": draw(floats(0.01, 1.0)), "total_iters": draw(st.integers(1, 20))}, \
            30, {}
    if cls == "LinearLR":
        return {"start_factor": draw(floats(0.01, 1.0)), "end_factor": draw(unit),
                "total_iters": draw(st.integers(1, 30))}, 40, {}
    if cls == "ExponentialLR":
        return {"gamma": draw(gamma)}, 60, {}
    if cls == "PolynomialLR":
        return {"total_iters": draw(st.integers(1, 30)),
                "power": draw(floats(0.0, 4.0))}, 40, {}
    if cls == "CosineAnnealingLR":
        t = draw(st.integers(1, 30))
        # eta_min <= lr (above it, torch anneals upward; refused here), 0 or at least 1e-6
        # of lr_min, so the product is never a subnormal (see floats)
        fraction = draw(st.one_of(st.just(0.0), floats(1e-6, 1.0)))
        return {"T_max": t, "eta_min": fraction * lr_min}, 4 * t + 3, {}
    if cls == "CosineAnnealingWarmRestarts":
        fraction = draw(st.one_of(st.just(0.0), floats(1e-6, 1.0)))  # eta_min <= lr
        return {"T_0": draw(st.integers(1, 10)), "T_mult": draw(st.integers(1, 3)),
                "eta_min": fraction * lr_min}, 80, {}
    if cls == "CyclicLR":
        base, peak = ordered(draw, lr)
        lo, hi = ordered(draw, floats(0.5, 0.99))
        kwargs = {"base_lr": base, "max_lr": peak, "step_size_up": draw(st.integers(1, 10)),
                  "step_size_down": draw(st.one_of(st.none(), st.integers(0, 10))),
                  "cycle_momentum": draw(st.booleans()), "base_momentum": lo,
                  "max_momentum": hi}
        if draw(st.booleans()):
            kwargs["mode"] = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
            kwargs["gamma"] = draw(floats(0.9, 1.0))
        else:
            kwargs["scale_fn"] = lam(draw)
            kwargs["scale_mode"] = draw(st.sampled_from(["cycle", "iterations"]))
        return kwargs, 60, {}
    if cls == "OneCycleLR":
        total = draw(st.integers(2, 60))
        pct = draw(floats(0.0, 1.0))
        if pct * total == 1.0:
            pct = 0.5 if total != 2 else 0.3
        kwargs = {"max_lr": draw(lr), "total_steps": total, "pct_start": pct,
                  "anneal_strategy": draw(st.sampled_from(["cos", "linear"])),
                  "cycle_momentum": draw(st.booleans()),
                  "base_momentum": draw(floats(0.5, 0.9)),
                  "max_momentum": draw(floats(0.9, 0.99)),
                  "div_factor": draw(floats(1.0, 100.0)),
                  "final_div_factor": draw(floats(1.0, 1e4)),
                  "three_phase": draw(st.booleans())}
        if kwargs["three_phase"] and (2 * pct * total - 2 == total - 1):
            kwargs["three_phase"] = False
        if not kwargs["three_phase"] and float(pct * total) - 1 == total - 1:
            # a zero-length last phase: torch divides by zero at step N
            kwargs["pct_start"] = 0.5 if total != 2 else 0.3
        return kwargs, total, {}  # steps 0..total-1; step total checked in the fixtures
    if cls == "ReduceLROnPlateau":
        n_steps = 40
        metrics = draw(st.lists(st.one_of(floats(0.0, 10.0), st.just(float("nan"))),
                                min_size=n_steps, max_size=n_steps))
        mode = draw(st.sampled_from(["min", "max"]))
        threshold_mode = draw(st.sampled_from(["rel", "abs"]))
        kwargs = {"mode": mode, "factor": draw(floats(0.0, 0.99)),
                  "patience": draw(st.integers(0, 5)),
                  "threshold": draw(floats(0.0, 0.5)), "threshold_mode": threshold_mode,
                  "cooldown": draw(st.integers(0, 4)),
                  "min_lr": draw(floats(0.0, 1e-3)) * lr_min,  # <= every lr (else refused)
                  "eps": draw(st.sampled_from([0.0, 1e-8, 1e-4]))}
        # float32 decides near-ties with the threshold unlike torch's float64: such draws
        # are checked in float64 only (the adapter always is).
        return kwargs, n_steps + 1, {"metrics": metrics, "float64_only": "random metrics"}
    if cls in ("SequentialLR", "ChainedScheduler"):
        kinds = ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                 "PolynomialLR", "MultiplicativeLR"]
        if cls == "SequentialLR":
            kinds += ["CosineAnnealingLR", "LambdaLR", "CosineAnnealingWarmRestarts"]
        k = draw(st.integers(1, 3))
        children = []
        for _ in range(k):
            child = draw(st.sampled_from(kinds))
            kw, _, _ = config(draw, child, 1, lr_min)
            children.append({"class": child, "kwargs": kw})
        # a composite's child states (and a lambda child's curve) are compared two-way, with
        # no oracle to arbitrate: keep LinearLR away from tiny factors, where torch's own
        # recursion is off by up to 4e-10 relative (LinearLR alone is judged three ways
        # against the oracle, tiny factors included)
        for c in children:
            if c["class"] == "LinearLR":
                for key in ("start_factor", "end_factor"):
                    if key in c["kwargs"]:
                        c["kwargs"][key] = max(c["kwargs"][key], 1e-3)
        if cls == "ChainedScheduler":
            return {}, 40, {"children": children}
        ms = sorted(draw(st.sets(st.integers(0, 30), min_size=k - 1, max_size=k - 1)))
        return {"milestones": ms}, 45, {"children": children}
    raise AssertionError(cls)


CLASSES = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"]


def run_torch(cls, kwargs, optimizer, groups, n_steps, extra):
    case = dict(cls=cls, kwargs=kwargs, optimizer=optimizer, groups=groups,
                steps=list(range(n_steps)), **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves = generate.record(case)
    return dict(name="live", **{"class": cls}, kwargs=kwargs, optimizer=optimizer,
                groups=groups, **curves, **extra)


@pytest.mark.parametrize("cls", CLASSES)
@given(data=st.data())
def test_random_config_matches_torch(cls, data):
    """One random configuration feeds both checks: the whole run against torch (float64,
    float32, the adapter, the state dict), then ``from_torch`` taken mid-run."""
    n, optimizer, groups = groups_strategy(data.draw)
    kwargs, n_steps, extra = config(data.draw, cls, n, min(g["lr"] for g in groups))
    case = run_torch(cls, kwargs, optimizer, groups, n_steps, extra)
    errors = parity.case_errors(case)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, (bad, kwargs, extra)
    mismatches = parity.state_mismatches(parity.adapter_state(case), case["state_dict"],
                                        scale=parity.case_peak(case),
                                        exact=parity.case_state_exact(case))
    assert not mismatches, mismatches
    check_from_torch(cls, kwargs, optimizer, groups, n_steps, extra,
                     at=data.draw(st.integers(0, n_steps - 1)))


ROUND_TRIP = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 6, 6], gamma=0.5)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("LinearLR", dict(start_factor=0.2, total_iters=6)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("PolynomialLR", dict(total_iters=8, power=2.0)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=2)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=40)),
    ("LambdaLR", dict(lr_lambda={"lambda": "pow095"})),
    ("MultiplicativeLR", dict(lr_lambda={"lambda": "wobble"})),
]


def torch_pair(cls, kwargs):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.05, momentum=0.9)
    ref = getattr(torch.optim.lr_scheduler, cls)(opt, **parity.resolve_lambdas(kwargs))
    ours = getattr(jaxsched, cls)([{"lr": 0.05, "momentum": 0.9}],
                                  **parity.resolve_lambdas(kwargs))
    return opt, ref, ours


def assert_same(opt, ours):
    got, want = ours.param_groups[0], opt.param_groups[0]
    assert got["lr"] == pytest.approx(want["lr"], rel=1e-12, abs=1e-300)
    assert got["momentum"] == pytest.approx(want["momentum"], rel=1e-12)


@pytest.mark.parametrize(("cls", "kwargs"), ROUND_TRIP, ids=[c for c, _ in ROUND_TRIP])
@pytest.mark.parametrize("at", [0, 5, 17])
def test_state_dict_both_ways_mid_run(cls, kwargs, at):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt, ref, ours = torch_pair(cls, kwargs)
        for _ in range(at):
            opt.step()
            ref.step()
        # torch -> jaxsched
        _, _, resumed = torch_pair(cls, kwargs)
        resumed.load_state_dict(ref.state_dict())
        # jaxsched -> torch: the torch side restores its optimizer's lrs, as a checkpoint does
        for _ in range(at):
            ours.step()
        opt2, ref2, _ = torch_pair(cls, kwargs)
        for group, saved in zip(opt2.param_groups, ours.param_groups, strict=True):
            group.update({k: v for k, v in saved.items() if k != "initial_lr"})
        ref2.load_state_dict(ours.state_dict())
        for _ in range(min(15, 40 - at - 1)):
            opt.step()
            ref.step()
            resumed.step()
            opt2.step()
            ref2.step()
            ours.step()
            assert_same(opt, resumed)
            assert_same(opt2, ours)


def test_plateau_state_dict_both_ways():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)
    metrics = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4]
    for m in metrics[:5]:
        ref.step(m)
    ours = jaxsched.ReduceLROnPlateau(0.1, patience=1, cooldown=1, factor=0.5)
    ours.load_state_dict(ref.state_dict())
    back = torch.optim.lr_scheduler.ReduceLROnPlateau(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), patience=1, cooldown=1,
        factor=0.5)
    back.load_state_dict(ours.state_dict())
    back.optimizer.param_groups[0]["lr"] = ours.get_last_lr()[0]
    for m in metrics[5:]:
        ref.step(m)
        ours.step(m)
        back.step(m)
        assert ours.get_last_lr() == ref.get_last_lr() == back.get_last_lr()


def check_from_torch(cls, kwargs, optimizer, groups, n_steps, extra, at):
    """``from_torch`` of a torch scheduler at step ``at``: the next steps agree (three ways
    where there is an oracle). Every class, on test_random_config_matches_torch's draws."""
    opt = generate.make_optimizer(optimizer, groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = generate.build(opt, cls, kwargs, extra.get("children"))
        metrics = extra.get("metrics")
        for i in range(at):
            ref.step(metrics[i]) if metrics else ref.step()
        ours = jaxsched.from_torch(ref)
        got, want = [], []
        for i in range(at, min(at + 10, n_steps - 1)):
            got.append(ours.get_last_lr())
            want.append([g["lr"] for g in opt.param_groups])
            ref.step(metrics[i]) if metrics else ref.step()
            ours.step(metrics[i]) if metrics else ours.step()
    # the window is a few steps of the curve: its peak is the run's starting lr at least
    peak = max(g["lr"] for g in groups)
    schedules = getattr(ours, "schedules", None)
    if schedules and all(oracle.has_oracle(s) for s in schedules):
        # three ways: torch's recursions are off their formula near tiny factors (LinearLR
        # to 6e-8: 6e-11 relative), where ours is exact
        steps = list(range(at, at + len(got)))
        for g, s in enumerate(schedules):
            exact = [float(v) for v in oracle.exact_values(s, steps)]
            verdict = parity.judge([row[g] for row in got], exact, [row[g] for row in want],
                                   x64=True)
            assert verdict.ok, (g, verdict)
    else:
        assert parity.compare(got, want, peak=peak).ok(x64=True)


def test_from_torch_takes_untraceable_lambda_and_rejects_foreign_objects():
    import math

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: math.exp(-e))
    ours = jaxsched.from_torch(ref)  # a plain Python lambda: called on the host, as torch
    for _ in range(5):
        opt.step()
        ref.step()
        ours.step()
        assert ours.get_last_lr() == ref.get_last_lr()
    with pytest.raises(TypeError, match=r"jaxsched\.from_torch: scheduler must be"):
        jaxsched.from_torch(object())


@pytest.mark.parametrize(("kwargs", "step"), [
    (dict(total_steps=10, pct_start=1.0), 10),
    (dict(total_steps=9, pct_start=5 / 9, three_phase=True), 9),  # 2 pct N - 2 == N - 1
], ids=["pct_start=1", "three_phase_zero_last"])
def test_one_cycle_refuses_what_torch_cannot_step_through(kwargs, step):
    """torch divides by zero at step N on a zero-length last phase; we refuse eagerly."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, **kwargs)
    with pytest.raises(ZeroDivisionError), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's step-order warning
        for _ in range(step):
            sched.step()
    with pytest.raises(ValueError, match=r"jaxsched.one_cycle_lr: the last phase would have "
                                         r"zero length, so torch divides by zero at step"):
        jaxsched.one_cycle_lr(0.1, **kwargs)
