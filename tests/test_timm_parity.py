"""The stored timm 1.0.31 curves and state dicts against the pure functions (jit+vmap,
float64 and float32) and the adapters, stepped per update as the reference was."""

from __future__ import annotations

import pytest

from jaxsched import timm
from jaxsched.tools import parity

CASES = parity.load_cases("timm")


def test_fixtures_cover_every_timm_class():
    # the metric-driven PlateauLRScheduler has no count curve to store: test_timm_plateau.py
    # steps it live against timm
    assert {c["class"] for c in CASES} == {n for n in timm.__all__ if n.endswith("Scheduler")
                                           and n != "PlateauLRScheduler"}
    assert any(len(c["groups"]) == 2 for c in CASES)
    assert any("lr_scale" in g for c in CASES for g in c["groups"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_timm(case):
    errors = parity.case_errors(case)
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_state_dict_equals_timm(case):
    """timm's keys and values after ``step_update(state_step)``."""
    assert parity.state_mismatches(parity.adapter_state(case), case["state_dict"],
                                   scale=parity.case_peak(case)) == []
