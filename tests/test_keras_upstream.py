"""Keras 3.15.1's own schedule tests, from its wheel
(``keras/src/optimizers/schedules/learning_rate_schedule_test.py``), run with
``jaxsched.keras``'s six classes in place of Keras's: every test there passes, the fit with
an ``Adam(learning_rate=ExponentialDecay(...))`` and Keras's serialization round trips
(``run_class_serialization_test``) included. With Keras loaded, each class builds an
instance of its Keras-bound subclass (``jaxsched.keras.bridge.keras_class``): a real
``keras.optimizers.schedules.LearningRateSchedule``, registered for deserialization."""

from __future__ import annotations

import importlib
import types
import unittest

import pytest
from keras_live import ks

from jaxsched import keras as jk

# Keras's test_boundary_values makes an int64 Variable, which JAX (without x64) truncates
# with a warning, before any schedule is involved
pytestmark = pytest.mark.filterwarnings(
    "ignore:Explicitly requested dtype int64 requested in asarray:UserWarning")

upstream = importlib.import_module(
    "keras.src.optimizers.schedules.learning_rate_schedule_test")

SIX = ("ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay",
       "CosineDecay", "CosineDecayRestarts")
OURS = types.SimpleNamespace(**{name: getattr(jk, name) for name in SIX})

# Keras's test classes, collected here (each a unittest.TestCase of keras.src.testing)
UPSTREAM = {name: cls for name, cls in vars(upstream).items()
            if isinstance(cls, type) and issubclass(cls, unittest.TestCase)
            and cls.__module__ == upstream.__name__}
globals().update(UPSTREAM)


@pytest.fixture(autouse=True)
def _jaxsched_classes(monkeypatch):
    """Keras's tests call ``schedules.<Class>``: ours, for the duration of each test."""
    monkeypatch.setattr(upstream, "schedules", OURS)


def test_every_upstream_class_is_collected():
    assert sorted(UPSTREAM) == [
        "CosineDecayRestartsTest", "CosineDecayTest", "ExponentialDecayTest",
        "InverseTimeDecayTest", "LinearDecayTest", "PiecewiseConstantDecayTest",
        "SqrtDecayTest", "TestFitLRSchedulesFlow"]


def test_the_classes_under_test_are_ours():
    for name in SIX:
        s = getattr(upstream.schedules, name)
        assert s is getattr(jk, name)
    made = upstream.schedules.ExponentialDecay(0.1, 10, 0.9)
    assert isinstance(made, jk.ExponentialDecay) and isinstance(made, ks.LearningRateSchedule)
    assert type(made).__module__ == "jaxsched.keras.schedules"
