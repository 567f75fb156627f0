"""Shared by the Keras tests: the live Keras 3.15.1 (``KERAS_BACKEND=jax``) and the
three-way comparison of a Keras-named schedule against it and against the exact oracle."""

from __future__ import annotations

import math
import os
import warnings

import jax
import numpy as np
import pytest

from jaxsched import keras as jk
from jaxsched.tools import oracle, parity

from helpers import require

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = require("keras")
if keras.backend.backend() != "jax":
    pytest.skip("keras was imported with another backend", allow_module_level=True)
ks = keras.optimizers.schedules


def ours(name, kw, steps, *, x64):
    """jaxsched's curve (jit + vmap) in float64 or float32, and the schedule."""
    with jax.enable_x64(x64), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unusual-value note, tested apart
        s = getattr(jk, name)(**kw)
        dtype = np.int64 if x64 else np.int32
        return np.asarray(jax.jit(jax.vmap(s))(np.asarray(steps, dtype))), s


def keras_curve(name, kw, steps):
    """Keras's own values in float32, jitted (as ``model.fit`` computes the lr from the
    optimizer's ``iterations`` inside its jitted step; Keras's eager values differ in places,
    e.g. a cycling ``PolynomialDecay`` at multiples of ``decay_steps``, and cost ~0.3 s a
    call; the stored fixtures of test_keras_parity.py are the eager ones)."""
    theirs = getattr(ks, name)(**kw)
    return np.asarray(jax.jit(jax.vmap(theirs))(np.asarray(steps, np.int32)), np.float64)


def assert_three_way(name, kw, steps, *, limit=1e30):
    """float64 against exact (1e-12 relative, or no further than Keras), float32 within 2e-6
    of the peak of exact, or closer to exact than Keras's float32; steps where the exact
    value passes ``limit`` (a growth rate far out, where all overflow) are left out."""
    ours64, s64 = ours(name, kw, steps, x64=True)
    exact = np.asarray(oracle.exact_values(s64, steps), np.float64)
    keep = np.abs(exact) <= limit
    steps = [k for k, ok in zip(steps, keep, strict=True) if ok]
    exact, ours64 = exact[keep], ours64[keep]
    ref = keras_curve(name, kw, steps)
    judged = parity.judge(ours64, exact, ref, x64=True, steps=steps)
    assert judged.ok, (name, kw, judged)
    # float32 far into a growth curve with a fractional decay_steps (one exp of k / d: its
    # argument alone rounds by |x| 2**-24 relative, 2e-6 at x = 33 e-folds, for Keras's
    # float32 as for ours, and the two may err in opposite directions) is judged in float32
    # up to e**16 times its initial lr (1e-6 each at most); float64 above covers it
    # everywhere. A whole decay_steps is rate**q (int_pow, 2.1e-7 at any q) * rate**(r/d).
    grown = np.abs(exact) <= abs(kw.get("initial_learning_rate", 1.0)) * math.exp(16)
    if (name == "ExponentialDecay" and abs(kw["decay_rate"]) > 1 and grown.any()
            and not kw.get("staircase") and not float(kw["decay_steps"]).is_integer()):
        steps = [k for k, ok in zip(steps, grown, strict=True) if ok]
        exact, ref = exact[grown], ref[grown]
    ours32, _ = ours(name, kw, steps, x64=False)
    peak = float(np.max(np.abs(exact))) or 1.0
    judged = parity.judge(ours32, exact, x64=False, peak=peak, steps=steps)
    assert judged.ok, (name, kw, judged)
    # Keras's own float32 curve: ours is within 2e-6 of its peak or closer to exact
    near = np.abs(ours32 - ref) <= parity.FLOAT32_PEAK_TOL * peak
    closer = (np.abs(ours32 - exact) <= np.abs(ref - exact)) | (
        ~np.isfinite(ref) & np.isfinite(ours32))  # Keras's float32 step can give NaN
    bad = [(k, o, r, e) for k, o, r, e, ok in zip(steps, ours32, ref, exact, near | closer,
                                                   strict=True) if not ok]
    assert not bad, (name, kw, bad[:3])
    return exact, ref
