"""The stored torch 2.13.0 curves and state dicts against the pure functions (jit+vmap,
float64 and float32), the in-graph plateau transform, and the adapters."""

from __future__ import annotations

import pytest

from jaxsched.tools import parity

CASES = parity.load_cases("torch")
CLASSES = {"LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"}


def test_fixtures_cover_all_fifteen_classes_and_both_optimizers():
    assert {c["class"] for c in CASES} == CLASSES
    for cls in CLASSES:
        assert {c["optimizer"] for c in CASES if c["class"] == cls} <= {"SGD", "Adam"}
    assert {c["optimizer"] for c in CASES} == {"SGD", "Adam"}
    assert any(len(c["groups"]) == 2 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_torch(case):
    errors = parity.case_errors(case)
    assert {"pure64.lr", "adapter.lr"} <= set(errors)
    if "float64_only" not in case:
        assert "pure32.lr" in errors
    momentum = case["kwargs"].get("cycle_momentum", True) and case["class"] in (
        "CyclicLR", "OneCycleLR")
    if momentum:
        assert {"pure64.momentum", "pure32.momentum", "adapter.momentum"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_state_dict_equals_torch(case):
    """Same keys and values as torch's scheduler after the same steps (nested for
    SequentialLR and ChainedScheduler)."""
    assert parity.state_mismatches(parity.adapter_state(case), case["state_dict"],
                                        scale=parity.case_peak(case),
                                        exact=parity.case_state_exact(case)) == []
