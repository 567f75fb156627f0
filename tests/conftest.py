"""Strict test set-up: warnings are errors (pyproject), hypothesis profiles, reference libs."""

from __future__ import annotations

import importlib
import logging
import os

import chex
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, max_examples=30,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.register_profile(
    "thorough", deadline=None, max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))



def quiet_deepspeed() -> None:
    """DeepSpeed logs a warning for every read of the lr before the first step."""
    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _fresh_trace_counters():
    """chex.assert_max_traces counts per function across tests: start each test at zero,
    whether or not the previous one got to the end."""
    chex.clear_trace_counter()
    yield
    chex.clear_trace_counter()


def require(module: str):
    """Imports a reference library; skips without it, unless JAXSCHED_REQUIRE_REFERENCE=1
    (set by the test command, so CI fails instead of silently skipping the live tests)."""
    if os.environ.get("JAXSCHED_REQUIRE_REFERENCE") == "1":
        mod = importlib.import_module(module)
    else:
        mod = pytest.importorskip(module)
    quiet_deepspeed()
    return mod

# The generators import torch/DeepSpeed at module level; tests import them when those exist.
collect_ignore_glob = ["reference/*.py"]
