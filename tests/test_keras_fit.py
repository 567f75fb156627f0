"""jaxsched schedules in ``keras.Model.fit`` (Keras 3.15.1, ``KERAS_BACKEND=jax``): a small
fit with a jaxsched schedule against the same fit with the reference's schedule (Keras's
own class, or torch's OneCycleLR curve played back as a Keras schedule), and the schedule
saved with the model and read back by Keras and by ``jaxsched.keras.deserialize``."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest
from keras_live import keras, ks

import jaxsched
from jaxsched import keras as jk

from helpers import require

# Keras's Variable.numpy (used by model.save) trips numpy 2's copy-keyword deprecation
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

X = np.random.default_rng(0).normal(size=(48, 4)).astype("float32")
Y = (X @ np.array([[0.5], [-1.0], [2.0], [0.25]], "float32") + 0.1).astype("float32")


def fit(lr, optimizer="adam", epochs=3):
    """Trains a fixed two-layer model (6 batches an epoch) and returns its weights."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(1)])
    opt = keras.optimizers.Adam(lr) if optimizer == "adam" else keras.optimizers.SGD(lr)
    model.compile(optimizer=opt, loss="mse")
    model.fit(X, Y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)
    assert int(opt.iterations.value) == 6 * epochs
    return model, [np.asarray(w.value) for w in model.weights]


class Played(keras.optimizers.schedules.LearningRateSchedule):
    """A reference curve played back: ``values[step]`` (the last value past the end)."""

    def __init__(self, values):
        self.values = np.asarray(values, np.float32)

    def __call__(self, step):
        i = keras.ops.minimum(keras.ops.cast(step, "int32"), len(self.values) - 1)
        return keras.ops.take(self.values, i)


def test_keras_named_schedule_fits_like_keras():
    """jaxsched.keras.CosineDecay (warmup and alpha) against Keras's CosineDecay: the same
    weights after 3 epochs, to float32 rounding of the lr (Keras's float32 cos vs the
    sin**2 form here differ in the last bits of some steps)."""
    kw = dict(initial_learning_rate=0.0, decay_steps=12, alpha=0.1, warmup_target=0.05,
              warmup_steps=4)
    ours = jk.CosineDecay(**kw)
    assert isinstance(ours, ks.LearningRateSchedule)  # keras is loaded: a Keras schedule
    _, theirs_w = fit(ks.CosineDecay(**kw))
    _, ours_w = fit(ours)
    for a, b in zip(ours_w, theirs_w, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_piecewise_fits_bit_for_bit():
    """Where the lr values are the same floats, so are the weights."""
    kw = dict(boundaries=[5, 11], values=[0.05, 0.02, 0.005])
    _, theirs_w = fit(ks.PiecewiseConstantDecay(**kw), optimizer="sgd")
    _, ours_w = fit(jk.PiecewiseConstantDecay(**kw), optimizer="sgd")
    for a, b in zip(ours_w, theirs_w, strict=True):
        np.testing.assert_array_equal(a, b)


def test_one_cycle_fits_like_torch():
    """jaxsched.one_cycle_lr through as_keras_schedule against torch's OneCycleLR curve
    (the lr in force at each of the 18 updates) played back into the same fit."""
    torch = require("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=18)
    curve = []
    for _ in range(18):
        curve.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    s = jaxsched.one_cycle_lr(max_lr=0.05, total_steps=18)
    with jax.enable_x64(True):
        np.testing.assert_allclose([float(s(k)) for k in range(18)], curve, rtol=1e-12)
    lr = jk.as_keras_schedule(s)
    assert isinstance(lr, ks.LearningRateSchedule)
    _, theirs_w = fit(Played(curve))
    _, ours_w = fit(lr)
    for a, b in zip(ours_w, theirs_w, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_any_schedule_saves_with_the_model(tmp_path):
    """DeepSpeed's WarmupCosineLR (jaxsched.warmup_cosine_lr) in a saved .keras model:
    Keras reloads it (registered as jaxsched>JaxschedSchedule), jaxsched.keras.deserialize
    reads the optimizer's config back to the same schedule."""
    s = jaxsched.warmup_cosine_lr(total_num_steps=18, warmup_num_steps=5, lr=0.02)
    model, _ = fit(jk.as_keras_schedule(s))
    path = tmp_path / "model.keras"
    model.save(path)
    back = keras.models.load_model(path)
    lr = back.optimizer._learning_rate
    assert type(lr).__name__ == "JaxschedSchedule"
    config = keras.optimizers.serialize(back.optimizer)
    for got in (lr.schedule, jk.deserialize(config),
                jk.deserialize(ks.serialize(jk.as_keras_schedule(s)))):
        assert [float(got(k)) for k in range(20)] == [float(s(k)) for k in range(20)]


def test_keras_named_round_trips_through_keras():
    """What keras.optimizers.schedules.serialize writes for a jaxsched.keras schedule,
    Keras's deserialize and jaxsched.keras.deserialize both read back."""
    s = jk.CosineDecayRestarts(0.1, 7.5, t_mul=1.5, m_mul=2.0, alpha=0.1)
    config = ks.serialize(s)
    assert config["module"] == "jaxsched.keras.schedules"
    assert config["registered_name"] == "jaxsched>CosineDecayRestarts"
    for back in (ks.deserialize(config), jk.deserialize(config)):
        assert back.get_config() == s.get_config()
        assert [float(back(k)) for k in range(40)] == [float(s(k)) for k in range(40)]
    with pytest.raises(TypeError, match=r"must be a jaxsched\.Schedule"):
        jk.as_keras_schedule(lambda k: 0.1)


def test_import_jaxsched_does_not_import_keras():
    code = ("import sys, jaxsched, jaxsched.keras as jk; s = jk.CosineDecay(0.1, 10); "
            "float(s(3)); assert not any(m == 'keras' or m.startswith('keras.') "
            "for m in sys.modules), 'keras imported'; "
            "assert type(s) is jk.CosineDecay")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_keras_bound_schedules_pickle_and_copy():
    """A Keras-bound instance (a class made at run time) pickles and copies by its config,
    to an instance of the same class with the same values."""
    import copy
    import pickle

    s = jk.InverseTimeDecay(0.1, 2.5, 0.5, staircase=True, name="itd")
    assert type(s).__module__ == "jaxsched.keras.schedules"
    for back in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s), copy.copy(s)):
        assert type(back) is type(s) and back.get_config() == s.get_config()
        assert [float(back(k)) for k in range(12)] == [float(s(k)) for k in range(12)]
