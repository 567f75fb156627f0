"""The stored Keras 3.15.1 curves (float32, as Keras computes) against the pure schedules
(jit+vmap, float64 and float32) and the Keras-named objects called eagerly, judged three
ways against the exact oracle."""

from __future__ import annotations

import pytest

from jaxsched.keras import config
from jaxsched.tools import parity

CASES = parity.load_cases("keras")


def test_fixtures_cover_every_keras_schedule():
    assert {c["class"] for c in CASES} == set(config.CLASSES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_keras(case):
    errors = parity.case_errors(case)
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad
