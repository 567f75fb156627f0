"""The stored megatron-core 0.16.1 curves and state dicts against the pure lr schedules
(jit+vmap, float64 and float32) and the adapter stepped by the same increments."""

from __future__ import annotations

import pytest

from jaxsched.megatron import schedules
from jaxsched.tools import parity

CASES = parity.load_cases("megatron")


def test_fixtures_cover_every_decay_style():
    styles = {c["kwargs"]["lr_decay_style"] for c in CASES}
    wsd = {c["kwargs"].get("lr_wsd_decay_style") for c in CASES} - {None}
    assert styles == set(schedules.DECAY_STYLES) and wsd == set(schedules.WSD_DECAY_STYLES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_megatron(case):
    errors = parity.case_errors(case)
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_state_dict_equals_megatron(case):
    assert parity.state_mismatches(parity.adapter_state(case), case["state_dict"],
                                   scale=parity.case_peak(case)) == []
