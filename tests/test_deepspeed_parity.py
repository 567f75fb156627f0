"""The stored DeepSpeed 0.19.8 curves against the pure functions (jit+vmap, float64 and
float32) and the adapters (their param_groups, stepped as DeepSpeed was)."""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest

import jaxsched
from jaxsched.tools import parity

CASES = parity.load_cases("deepspeed")
FACTORIES = {"LRRangeTest": jaxsched.lr_range_test, "OneCycle": jaxsched.one_cycle,
             "WarmupLR": jaxsched.warmup_lr, "WarmupDecayLR": jaxsched.warmup_decay_lr,
             "WarmupCosineLR": jaxsched.warmup_cosine_lr}


def test_fixtures_cover_every_class_and_both_optimizers():
    assert {c["class"] for c in CASES} == set(FACTORIES)
    assert {c["optimizer"] for c in CASES} == {"SGD", "Adam"}
    assert any(len(c["groups"]) == 2 for c in CASES)
    assert all(2**31 - 1 in c["steps"] for c in CASES)


def quiet_errors(case):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "jaxsched.OneCycle: cycle_momentum is disabled")
        return parity.case_errors(case)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_deepspeed(case):
    errors = quiet_errors(case)
    assert "pure64.lr" in errors and "pure32.lr" in errors and "adapter.lr" in errors
    if case["class"] == "OneCycle" and case["kwargs"].get("cycle_momentum", True) \
            and case["optimizer"] == "Adam":
        assert "pure64.momentum" in errors and "pure32.momentum" in errors
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


@pytest.mark.parametrize("case", [c for c in CASES if len(c["groups"]) == 1],
                         ids=[c["name"] for c in CASES if len(c["groups"]) == 1])
def test_public_factory_with_deepspeed_kwargs(case):
    """The factory called directly with DeepSpeed's kwargs gives the recorded curve."""
    kwargs = dict(case["kwargs"])
    if case["class"] == "WarmupCosineLR" or (case["class"] == "WarmupLR"
                                             and kwargs.get("warmup_max_lr") is None):
        kwargs["lr"] = case["groups"][0]["lr"]
    s = FACTORIES[case["class"]](**kwargs)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(jax.vmap(s))(np.asarray(case["steps"])))
    assert parity.compare(got, case["lr"][0]).rel <= parity.FLOAT64_REL_TOL


@pytest.mark.parametrize(("ours", "ref", "ok64"), [
    ([1.0, 0.5], [1.0, 0.5], True),
    ([1.0, 0.5 * (1 + 2e-12)], [1.0, 0.5], False),          # relative error past 1e-12
    ([1.0, 0.0], [1.0, -7.4e-17], True),                    # reference is rounding noise
    ([1.0, 1e-15], [1.0, 0.0], False),                      # more than 4 ulps of the peak
    ([1.0, 1e-13], [1.0, 1e-13 * (1 + 1e-11)], False),      # small but above noise: relative
], ids=["equal", "relative", "noise", "past-noise", "small-relative"])
def test_compare_criterion(ours, ref, ok64):
    assert parity.compare(np.asarray(ours), ref).ok(x64=True) is ok64
