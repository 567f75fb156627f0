"""Bad input to the Keras port: raised eagerly, naming the class, the argument and the
value; where Keras raises and where it silently misbehaves."""

from __future__ import annotations

import pytest

from jaxsched import keras

CASES = {
    "decay_steps_zero": (lambda: keras.ExponentialDecay(0.1, 0, 0.5), ValueError,
                         r"ExponentialDecay: decay_steps must be > 0 \(Keras raises\), got 0"),
    "decay_rate_growth": (lambda: keras.ExponentialDecay(0.1, 10, 1.5), ValueError,
                          r"decay_rate must be in \[0, 1\], got 1.5.*grows"),
    "staircase_string": (lambda: keras.ExponentialDecay(0.1, 10, 0.5, staircase="True"),
                         TypeError, r"staircase must be a bool, got 'True'"),
    "inverse_negative_rate": (lambda: keras.InverseTimeDecay(0.1, 10, -1.0), ValueError,
                              r"InverseTimeDecay: decay_rate must be >= 0, got -1.0"),
    "piecewise_lengths": (lambda: keras.PiecewiseConstantDecay([10, 20], [0.1, 0.01]),
                          ValueError, r"boundaries must be one shorter than values"),
    "piecewise_unsorted": (lambda: keras.PiecewiseConstantDecay([20, 10], [1, 2, 3]),
                           ValueError, r"boundaries must be non-decreasing.*\[20, 10\]"),
    "piecewise_string": (lambda: keras.PiecewiseConstantDecay("10", [1, 2]), TypeError,
                         r"boundaries must be a list, got '10'"),
    "polynomial_fractional_steps": (lambda: keras.PolynomialDecay(0.1, 2.5), ValueError,
                                    r"decay_steps must be a whole number of steps here, got "
                                    r"2.5"),
    "polynomial_negative_power": (lambda: keras.PolynomialDecay(0.1, 10, power=-1.0),
                                  ValueError, r"power must be >= 0, got -1.0"),
    "cosine_alpha": (lambda: keras.CosineDecay(0.1, 10, alpha=2.0), ValueError,
                     r"CosineDecay: alpha must be in \[0, 1\], got 2.0"),
    "cosine_warmup_negative": (lambda: keras.CosineDecay(0.0, 10, warmup_target=0.1,
                                                         warmup_steps=-1), ValueError,
                               r"warmup_steps must be in \[0, .*got -1"),
    "restarts_t_mul_below_1": (lambda: keras.CosineDecayRestarts(0.1, 10, t_mul=0.5),
                               ValueError, r"t_mul must be >= 1, got 0.5 .*NaN"),
    "restarts_m_mul_growth": (lambda: keras.CosineDecayRestarts(0.1, 10, m_mul=1.5),
                              ValueError, r"m_mul must be in \[0, 1\], got 1.5"),
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
