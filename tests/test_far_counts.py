"""The top of the count range, defined and tested for every schedule and adapter: at 0,
2**24+1 (float32's first inexact integer), 2**31-2 and 2**31-1 every value is finite, >= 0
and what the docstring says; a count never wraps; an adapter refuses to step past its limit
(2**31-1; torch's and Megatron's, whose schedules are exact further, 2**63-1:
tests/test_wide_counts.py) and keeps its count."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from bad_input_cases import ADAPTERS

import jaxsched
from jaxsched.tools import draws, oracle, parity

TOP = 2**31 - 1
FAR = [0, 2**24 + 1, TOP - 1, TOP]


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(draws.DRAWS))
def test_every_schedule_at_far_counts_is_its_exact_value(name, x64):
    with jax.enable_x64(x64):
        schedule, boundaries = draws.draw(name, 3)
        for key, s in (("lr", schedule), ("momentum", schedule.momentum)):
            if s is None:
                continue
            ours = np.asarray([float(jax.jit(s)(k)) for k in FAR])
            assert np.all(np.isfinite(ours)) and np.all(ours >= 0), (name, key, ours)
            exact = np.asarray([float(v) for v in oracle.exact_values(s, FAR)])
            # float32's tolerance is of the curve's peak, which may lie at a boundary
            near = sorted({min(max(b + d, 0), TOP) for b in boundaries for d in (-1, 0, 1)})
            peak = max(float(np.max(exact)), *(float(v) for v in oracle.exact_values(s, near)))
            verdict = parity.judge(ours, exact, exact, x64=x64, peak=peak or 1.0,
                                   steps=np.asarray(FAR))
            assert verdict.ok, (name, key, ours, exact)


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_user_lambda_schedules_at_far_counts(x64):
    """multiplicative_lr multiplies k factors in turn (no k + 1 that would wrap at 2**31-1);
    lambda_lr is the lambda's value."""
    with jax.enable_x64(x64):
        mult = jax.jit(jaxsched.multiplicative_lr(lambda k: 1.0 - 1e-10, lr=0.1))
        lam = jax.jit(jaxsched.lambda_lr(lambda k: 1.0 / (1.0 + k.astype(float)), lr=0.1))
        for k in (0, 2**24 + 1, TOP):
            m, v = float(mult(k)), float(lam(k))
            assert math.isfinite(m) and m >= 0 and math.isfinite(v) and v >= 0
            if x64:  # k roundings of a product of k factors
                assert m == pytest.approx(0.1 * math.exp(k * math.log1p(-1e-10)),
                                          rel=max(k, 1) * 2**-52)
                assert v == pytest.approx(0.1 / (1 + k), rel=1e-15)
            else:  # float32: 1 - 1e-10 is 1.0
                assert m == pytest.approx(0.1, rel=1e-7)


def test_counts_past_the_top_saturate_in_the_pure_schedule():
    s = jax.jit(jaxsched.step_lr(1000, 0.5, lr=0.1))
    assert float(s(jnp.float32(2**40))) == float(s(TOP))  # a float count is clamped
    assert float(s(-5)) == float(s(0))  # a negative one gives the step-0 value


def _at_top(name, resume=TOP - 2):
    """The adapter ``name`` resumed at ``resume`` (its count is then ``resume + 1``: the
    constructor steps once); by default one step before the top of the count range."""
    group = [{"lr": 0.1, "momentum": 0.9, "initial_lr": 0.1}]
    beta = [{"lr": 0.1, "betas": (0.9, 0.99), "initial_lr": 0.1}]
    torch_le = dict(last_epoch=resume)
    ds_le = dict(last_batch_iteration=resume)
    return {
        "StepLR": lambda: jaxsched.StepLR(group, 1000, 0.5, **torch_le),
        "MultiStepLR": lambda: jaxsched.MultiStepLR(group, [5, TOP], 0.5, **torch_le),
        "ConstantLR": lambda: jaxsched.ConstantLR(group, 0.5, 4, **torch_le),
        "LinearLR": lambda: jaxsched.LinearLR(group, 0.5, 1.0, TOP, **torch_le),
        "ExponentialLR": lambda: jaxsched.ExponentialLR(group, 0.999999, **torch_le),
        "PolynomialLR": lambda: jaxsched.PolynomialLR(group, TOP, 2.0, **torch_le),
        "CosineAnnealingLR": lambda: jaxsched.CosineAnnealingLR(group, 10**6, 0.01, **torch_le),
        "CosineAnnealingWarmRestarts": lambda: jaxsched.CosineAnnealingWarmRestarts(
            group, 7, 3, **torch_le),
        "CyclicLR": lambda: jaxsched.CyclicLR(group, 0.01, 0.1, 999, 10**6, **torch_le),
        "OneCycleLR": lambda: jaxsched.OneCycleLR(group, 0.1, total_steps=TOP, **torch_le),
        "LambdaLR": lambda: jaxsched.LambdaLR(group, lambda k: 0.5, **torch_le),
        "WarmupLR": lambda: jaxsched.WarmupLR(group, warmup_max_lr=0.1, **ds_le),
        "WarmupDecayLR": lambda: jaxsched.WarmupDecayLR(group, TOP, warmup_max_lr=0.1, **ds_le),
        "WarmupCosineLR": lambda: jaxsched.WarmupCosineLR(group, TOP, **ds_le),
        "OneCycle": lambda: jaxsched.OneCycle(beta, 0.01, 0.1, decay_lr_rate=0.5,
                                              decay_step_size=100, **ds_le),
        "LRRangeTest": lambda: jaxsched.LRRangeTest(group, **ds_le),
    }[name]()


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
                                  "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
                                  "CosineAnnealingWarmRestarts", "CyclicLR", "LambdaLR",
                                  "WarmupLR", "WarmupDecayLR", "WarmupCosineLR", "OneCycle",
                                  "LRRangeTest", "OneCycleLR"])
def test_adapters_at_the_top_of_the_count_range(name):
    for resume, count in ((-1, 0), (2**24, 2**24 + 1)):  # the other far counts
        sched = _at_top(name, resume)
        with jax.enable_x64(True):
            want = float(sched.schedule(count))
        lrs = sched.get_last_lr()
        assert all(math.isfinite(x) and x >= 0 for x in lrs), (count, lrs)
        assert lrs[0] == pytest.approx(want, rel=1e-15, abs=0), (count, lrs, want)
    sched = _at_top(name)
    for count in (TOP - 1, TOP):
        lrs = sched.get_last_lr()
        with jax.enable_x64(True):
            want = float(sched.schedule(count))
        # the adapter's compiled program may round the last bit differently (FMA)
        assert all(math.isfinite(x) and x >= 0 for x in lrs), (count, lrs)
        assert lrs[0] == pytest.approx(want, rel=1e-15, abs=0), (count, lrs, want)
        if count < TOP:
            sched.step()
    before = sched.state_dict()
    if sched._max_count > TOP and name != "OneCycleLR":  # widened: tests/test_wide_counts
        sched.step()
        assert sched._count == TOP + 1
        with jax.enable_x64(True):
            want = float(sched.schedule(TOP + 1))
        assert sched.get_last_lr()[0] == pytest.approx(want, rel=1e-15, abs=0)
        return
    with pytest.raises((OverflowError, ValueError), match=r"2\*\*31-1|Tried to step"):
        sched.step()
    assert sched.state_dict() == before


def test_chained_scheduler_stops_at_the_top_with_its_children():
    sched = ADAPTERS["ChainedScheduler"]()
    sched._count = TOP
    for child in sched._children:
        child._count = TOP
    before = sched.state_dict()
    with pytest.raises(OverflowError, match=r"2\*\*31-1"):
        sched.step()
    assert sched.state_dict() == before


def test_plateau_counts_saturate_instead_of_wrapping():
    sched = jaxsched.ReduceLROnPlateau(0.1, patience=0)
    state = sched.state_dict()
    state["last_epoch"] = TOP
    sched.load_state_dict(state)
    sched.step(1.0)
    assert sched.state_dict()["last_epoch"] == TOP
    tx = jaxsched.reduce_lr_on_plateau(0.1)
    opt_state = tx.init(jnp.zeros(1))
    opt_state = opt_state._replace(plateau=opt_state.plateau._replace(
        last_epoch=jnp.asarray(TOP, jnp.int32)))
    _, opt_state = jax.jit(tx.update)(jnp.ones(1), opt_state, value=1.0)
    assert int(opt_state.plateau.last_epoch) == TOP
