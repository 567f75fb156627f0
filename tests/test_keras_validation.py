"""Input to the Keras port under the acceptance policy: what Keras 3.15.1 accepts and steps
through with finite values is accepted with Keras's values, compared live (three ways, both
dtypes; one ``UserWarning`` naming an unusual argument, none for a growth rate); what Keras
refuses, or where its lr divides by zero or turns NaN, and type confusion, raise eagerly,
naming the class, the argument and the value."""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
from keras_live import assert_three_way, keras_curve, ks, ours

from jaxsched import keras

CASES = {
    "decay_steps_zero": (lambda: keras.ExponentialDecay(0.1, 0, 0.5), ValueError,
                         r"ExponentialDecay: decay_steps must be > 0 \(Keras raises\), got 0"),
    "decay_steps_bool": (lambda: keras.PolynomialDecay(0.1, True), TypeError,
                         r"PolynomialDecay: decay_steps must be a real number, got True"),
    "staircase_string": (lambda: keras.ExponentialDecay(0.1, 10, 0.5, staircase="True"),
                         TypeError, r"staircase must be a bool, got 'True'"),
    "decay_rate_string": (lambda: keras.ExponentialDecay(0.1, 10, "0.5"), TypeError,
                          r"ExponentialDecay: decay_rate must be a real number, got '0.5'"),
    "lr_nan": (lambda: keras.CosineDecay(float("nan"), 10), ValueError,
               r"CosineDecay: initial_learning_rate must be finite, got nan"),
    "exponential_negative_rate_fractional_exponent": (
        lambda: keras.ExponentialDecay(0.1, 10, -0.5), ValueError,
        r"ExponentialDecay: decay_rate must be >= 0 unless staircase=True .*got -0.5.*NaN"),
    "inverse_pole_hit": (lambda: keras.InverseTimeDecay(0.1, 10, -1.0), ValueError,
                         r"InverseTimeDecay: decay_rate=-1.0 with decay_steps=10 divides by "
                         r"zero at step 10"),
    "inverse_pole_hit_staircase": (
        lambda: keras.InverseTimeDecay(0.1, 10, -0.25, staircase=True), ValueError,
        r"divides by zero at step 40"),
    "piecewise_lengths": (lambda: keras.PiecewiseConstantDecay([10, 20], [0.1, 0.01]),
                          ValueError, r"boundaries must be one shorter than values"),
    "piecewise_empty": (lambda: keras.PiecewiseConstantDecay([], [0.1]), ValueError,
                        r"boundaries must be one shorter than values and not empty"),
    "piecewise_string": (lambda: keras.PiecewiseConstantDecay("10", [1, 2]), TypeError,
                         r"boundaries must be a list, got '10'"),
    "piecewise_value_string": (lambda: keras.PiecewiseConstantDecay([10], [1, "2"]),
                               TypeError, r"values\[1\] must be a real number, got '2'"),
    "polynomial_negative_power": (lambda: keras.PolynomialDecay(0.1, 10, power=-1.0),
                                  ValueError, r"power must be >= 0, got -1.0 \(Keras's lr is "
                                              r"inf at step 10"),
    "cosine_alpha_string": (lambda: keras.CosineDecay(0.1, 10, alpha="0"), TypeError,
                            r"CosineDecay: alpha must be a real number, got '0'"),
    "cosine_warmup_steps_bool": (lambda: keras.CosineDecay(0.0, 10, warmup_target=0.1,
                                                           warmup_steps=True), TypeError,
                                 r"warmup_steps must be a real number, got True"),
    "restarts_t_mul_used_up": (lambda: keras.CosineDecayRestarts(0.1, 10, t_mul=0.5),
                               ValueError, r"t_mul=0.5 < 1 makes cycles that shrink and are "
                                           r"used up at step 20 .*NaN"),
    "restarts_t_mul_zero": (lambda: keras.CosineDecayRestarts(0.1, 10, t_mul=0.0),
                            ValueError, r"t_mul must be > 0, got 0.0"),
"name_not_string": (lambda: keras.CosineDecay(0.1, 10, name=3), TypeError,
                        r"name must be a string or None, got 3"),
    "from_config_unknown_class": (lambda: keras.from_config("CosineDecayy", {}), ValueError,
                                  r"class_name must be one of .*\(did you mean 'CosineDecay'"),
    "from_config_unknown_key": (lambda: keras.from_config("CosineDecay", {
        "initial_learning_rate": 0.1, "decay_step": 10}), TypeError,
        r"CosineDecay: unknown config key 'decay_step' \(did you mean 'decay_steps'\?\)"),
    "deserialize_custom_module": (lambda: keras.deserialize({
        "module": "my_project", "class_name": "MySchedule", "config": {}}), ValueError,
        r"'MySchedule' comes from module 'my_project'"),
    "deserialize_not_a_schedule": (lambda: keras.deserialize({"foo": 1}), ValueError,
                                   r"expected keras.optimizers.schedules.serialize output"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_eagerly(name):
    make, error, match = CASES[name]
    with pytest.raises(error, match=match):
        make()


# (class, kwargs, the UserWarning's text or None): each accepted, with Keras's values
ACCEPTED = {
    "decay_rate_growth": ("ExponentialDecay", dict(initial_learning_rate=1e-7,
                                                   decay_steps=100, decay_rate=10.0), None),
    "decay_rate_growth_staircase": ("ExponentialDecay", dict(
        initial_learning_rate=1e-6, decay_steps=50, decay_rate=1.5, staircase=True), None),
    "exponential_fractional_steps": ("ExponentialDecay", dict(
        initial_learning_rate=0.1, decay_steps=2.5, decay_rate=0.97), None),
    "exponential_negative_rate_staircase": ("ExponentialDecay", dict(
        initial_learning_rate=0.1, decay_steps=3, decay_rate=-0.9, staircase=True),
        "decay_rate=-0.9 is negative"),
    "exponential_negative_rate_whole_exponent": ("ExponentialDecay", dict(
        initial_learning_rate=0.1, decay_steps=1, decay_rate=-0.99),
        "decay_rate=-0.99 is negative"),
    "exponential_negative_lr": ("ExponentialDecay", dict(
        initial_learning_rate=-0.1, decay_steps=10, decay_rate=0.9),
        "initial_learning_rate=-0.1 is negative"),
    "inverse_fractional_steps": ("InverseTimeDecay", dict(
        initial_learning_rate=0.1, decay_steps=0.5, decay_rate=0.5, staircase=True), None),
    "inverse_negative_rate_pole_far": ("InverseTimeDecay", dict(
        initial_learning_rate=0.1, decay_steps=100, decay_rate=-1e-4),
        "decay_rate=-0.0001 is negative"),
    "piecewise_unsorted": ("PiecewiseConstantDecay", dict(
        boundaries=[200, 100, 300], values=[1.0, 0.5, 0.25, 0.1]), "not in order"),
    "piecewise_negative_value": ("PiecewiseConstantDecay", dict(
        boundaries=[100], values=[0.1, -0.01]), "negative lr"),
    "polynomial_fractional_steps": ("PolynomialDecay", dict(
        initial_learning_rate=0.1, decay_steps=12.5, end_learning_rate=0.01), None),
    "polynomial_fractional_steps_cycle": ("PolynomialDecay", dict(
        initial_learning_rate=0.1, decay_steps=12.5, power=2.0, cycle=True), None),
    "polynomial_steps_past_the_count": ("PolynomialDecay", dict(
        initial_learning_rate=0.1, decay_steps=3e9, end_learning_rate=0.0), None),
    "polynomial_negative_power_end_past_the_count": ("PolynomialDecay", dict(
        initial_learning_rate=0.1, decay_steps=1e10, power=-0.5), None),
    "polynomial_negative_end": ("PolynomialDecay", dict(
        initial_learning_rate=0.1, decay_steps=100, end_learning_rate=-0.01),
        "end_learning_rate=-0.01 is negative"),
    "cosine_alpha_above_1": ("CosineDecay", dict(initial_learning_rate=0.01,
                                                 decay_steps=100, alpha=10.0), None),
    "cosine_alpha_negative": ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=100,
                                                  alpha=-0.5), "alpha=-0.5 is negative"),
    "cosine_fractional_steps": ("CosineDecay", dict(
        initial_learning_rate=0.0, decay_steps=99.5, warmup_target=0.1, warmup_steps=10.25),
        None),
    "cosine_warmup_negative": ("CosineDecay", dict(
        initial_learning_rate=0.0, decay_steps=100, warmup_target=0.1, warmup_steps=-10),
        "warmup_steps=-10 is negative"),
    "restarts_m_mul_growth": ("CosineDecayRestarts", dict(
        initial_learning_rate=0.05, first_decay_steps=10, t_mul=3.0, m_mul=4.0, alpha=0.1),
        None),
    "restarts_m_mul_negative": ("CosineDecayRestarts", dict(
        initial_learning_rate=0.1, first_decay_steps=10, t_mul=1.0, m_mul=-0.8),
        "m_mul=-0.8 is negative"),
    "restarts_alpha_above_1": ("CosineDecayRestarts", dict(
        initial_learning_rate=0.01, first_decay_steps=20, alpha=2.0), None),
    "restarts_fractional_steps": ("CosineDecayRestarts", dict(
        initial_learning_rate=0.1, first_decay_steps=7.5, t_mul=1.0), None),
    "restarts_fractional_steps_geometric": ("CosineDecayRestarts", dict(
        initial_learning_rate=0.1, first_decay_steps=2.5, t_mul=1.5, m_mul=0.9), None),
    "restarts_t_mul_below_1_far": ("CosineDecayRestarts", dict(
        initial_learning_rate=0.1, first_decay_steps=10**7, t_mul=0.999), None),
}


def steps_of(kw):
    """Boundaries and their neighbours, a realistic run and a few far counts."""
    marks = {0, 1, 2, 3, 10, 99, 100, 101, 1000, 12345, 10**5, 2**24 + 1, 2**31 - 1}
    for key in ("decay_steps", "first_decay_steps", "warmup_steps"):
        b = kw.get(key)
        if b is not None and abs(b) < 2**31:
            marks |= {int(b) + j for j in range(-1, 3)} | {int(2 * b), int(3 * b) + 1}
    for b in kw.get("boundaries", []):
        marks |= {b - 1, b, b + 1}
    return sorted(m for m in marks if 0 <= m <= 2**31 - 1)


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted_with_keras_values(case):
    name, kw, note = ACCEPTED[case]
    if note is None:
        getattr(keras, name)(**kw)  # no warning (pyproject: warnings are errors)
    else:
        with pytest.warns(UserWarning, match=rf"jaxsched.keras.{name}: .*{note}") as seen:
            getattr(keras, name)(**kw)
        assert len(seen) == 1
    assert_three_way(name, kw, steps_of(kw))


def test_growth_overflows_where_keras_does():
    """The LR range test idiom far out: Keras's float32 lr overflows to inf, so does ours
    (and float64's exact value passes float64's range there too)."""
    kw = dict(initial_learning_rate=1e-7, decay_steps=100, decay_rate=10.0)
    steps = [4000, 5000, 10**5, 2**31 - 1]
    ref = keras_curve("ExponentialDecay", kw, steps)
    ours32, _ = ours("ExponentialDecay", kw, steps, x64=False)
    ours64, _ = ours("ExponentialDecay", kw, steps, x64=True)
    assert np.isinf(ref[1:]).all() and np.isinf(ours32[1:]).all(), (ref, ours32)
    assert np.isinf(ours64[2:]).all() and np.isfinite(ours64[:2]).all(), ours64
    assert ours64[1] == pytest.approx(1e43, rel=1e-12)


def test_unsorted_boundaries_add_up_as_in_keras():
    """Keras adds the values of every piece whose condition holds."""
    kw = dict(boundaries=[20, 10], values=[1.0, 2.0, 3.0])
    steps = [0, 5, 10, 11, 15, 20, 21, 25]
    with pytest.warns(UserWarning, match="not in order"):
        s = keras.PiecewiseConstantDecay(**kw)
    assert [float(s(k)) for k in steps] == [1.0, 1.0, 1.0, 4.0, 4.0, 4.0, 3.0, 3.0]
    assert list(keras_curve("PiecewiseConstantDecay", kw, steps)) == [
        float(s(k)) for k in steps]


def test_keras_itself_accepts_every_accepted_case():
    """The accepted table holds only what Keras constructs and steps through finitely."""
    for case, (name, kw, _) in ACCEPTED.items():
        steps = steps_of(kw)[:8]
        values = keras_curve(name, kw, steps)
        assert np.isfinite(values).all(), (case, values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ks.ExponentialDecay(0.1, 10, 10.0)
    with jax.enable_x64(False):
        assert np.isnan(keras_curve("CosineDecayRestarts", dict(
            initial_learning_rate=0.1, first_decay_steps=10, t_mul=0.5), [25])).all()
        assert np.isnan(keras_curve("ExponentialDecay", dict(
            initial_learning_rate=0.1, decay_steps=10, decay_rate=-0.5), [5])).all()
