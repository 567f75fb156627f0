"""Strict test set-up: warnings are errors (pyproject), hypothesis profiles, trace counters."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _fresh_trace_counters():
    """chex.assert_max_traces counts per function across tests: start each test at zero,
    whether or not the previous one got to the end."""
    chex.clear_trace_counter()
    yield
    chex.clear_trace_counter()


# The generators import torch/DeepSpeed at module level; tests import them when those exist.
collect_ignore_glob = ["reference/*.py"]


def pytest_configure(config):
    """Keras's own schedule tests (run by test_keras_upstream.py) carry Keras's marks."""
    config.addinivalue_line("markers", "requires_trainable_backend: Keras's own test mark")
