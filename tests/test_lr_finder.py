"""find_lr: the known divergence point of gradient descent on least squares, a Flax model
with Adam, one compiled loop, untouched params, the plot, and eager validation."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxsched


def least_squares(seed, cond):
    """A least-squares problem and 2 / lambda_max of its Hessian X^T X / m."""
    rng = np.random.default_rng(seed)
    m, d = 256, 10
    x = rng.normal(size=(m, d)) * np.geomspace(1 / np.sqrt(cond), 1.0, d) * 3
    y = x @ rng.normal(size=d) + 0.1 * rng.normal(size=m)
    critical = 2.0 / np.linalg.eigvalsh(x.T @ x / m).max()
    batches = (jnp.asarray(x[None], jnp.float32), jnp.asarray(y[None], jnp.float32))
    return batches, critical


def lsq_loss(w, batch):
    x, y = batch
    return 0.5 * jnp.mean((x @ w - y) ** 2)


SWEEPS = [("exp_100", "exp", 100, 1e-4, 1e2), ("exp_300", "exp", 300, 1e-4, 1e2),
          ("exp_1000", "exp", 1000, 1e-4, 1e2), ("linear_300", "linear", 300, 1e-3, 3.0)]


@pytest.mark.parametrize("cond", [10.0, 1000.0], ids=["cond10", "cond1000"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode,n,lo,hi", [s[1:] for s in SWEEPS], ids=[s[0] for s in SWEEPS])
def test_least_squares_diverges_at_two_over_lambda_max(mode, n, lo, hi, seed, cond):
    """Gradient descent diverges above 2/lambda_max: the sweep must find it there (within
    1%), stop, and suggest lrs below it."""
    batches, critical = least_squares(seed, cond)
    res = jaxsched.find_lr(lsq_loss, jnp.zeros(10), batches, optax.sgd, start_lr=lo * critical,
                           end_lr=hi * critical, num_steps=n, mode=mode)
    assert res.diverged
    assert res.divergence_lr == pytest.approx(critical, rel=0.01)
    assert set(res.suggestions) == {"valley", "steepest", "minimum/10"}
    assert all(0 < lr < critical for lr in res.suggestions.values()), res.suggestions
    assert len(res.lrs) < n  # stopped early
    assert np.all(np.diff(res.lrs) > 0)


def test_sweep_endpoints_and_no_divergence():
    """A sweep that stays below 2/lambda_max runs to the end: lrs are exactly the requested
    geometric grid, nothing diverges."""
    batches, critical = least_squares(0, 10.0)
    res = jaxsched.find_lr(lsq_loss, jnp.zeros(10), batches, start_lr=1e-3 * critical,
                           end_lr=0.9 * critical, num_steps=50)
    assert not res.diverged and res.divergence_lr is None
    np.testing.assert_allclose(res.lrs, np.geomspace(1e-3 * critical, 0.9 * critical, 50),
                               rtol=1e-12)
    assert np.all(np.isfinite(res.losses)) and res.losses[-1] < res.losses[0]


def test_params_are_not_modified_and_one_trace():
    batches, critical = least_squares(0, 10.0)
    w0 = jnp.arange(10.0)
    before = np.asarray(w0).copy()
    calls = []

    def loss(w, b):
        calls.append(1)  # runs only while tracing
        return lsq_loss(w, b)

    jaxsched.find_lr(loss, w0, batches, start_lr=1e-3, end_lr=10 * critical, num_steps=400)
    np.testing.assert_array_equal(np.asarray(w0), before)
    assert len(calls) <= 3  # traced once (gradient + loss), not once per step


def test_numpy_batches():
    """Batches as plain numpy arrays (what a data pipeline hands over) work the same."""
    batches, critical = least_squares(0, 10.0)
    as_numpy = tuple(np.asarray(b) for b in batches)
    kwargs = dict(start_lr=1e-3 * critical, end_lr=10 * critical, num_steps=200)
    ours = jaxsched.find_lr(lsq_loss, np.zeros(10, np.float32), as_numpy, **kwargs)
    ref = jaxsched.find_lr(lsq_loss, jnp.zeros(10), batches, **kwargs)
    np.testing.assert_array_equal(ours.losses, ref.losses)
    assert ours.divergence_lr == ref.divergence_lr


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(64, 32, rngs=rngs)
        self.out = nnx.Linear(32, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def test_flax_nnx_model_with_adam_and_many_batches(tmp_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x[:1536] / 16.0).astype(np.float32).reshape(12, 128, 64)
    y = y[:1536].astype(np.int32).reshape(12, 128)
    model = MLP(nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    kernel = np.asarray(model.hidden.kernel[...]).copy()

    def loss(state, batch):
        logits = nnx.merge(graphdef, state)(batch[0])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()

    res = jaxsched.find_lr(loss, state, (jnp.asarray(x), jnp.asarray(y)),
                           functools.partial(optax.adam, b1=0.9), start_lr=1e-5, end_lr=100.0,
                           num_steps=120)
    assert res.diverged and res.divergence_lr is not None
    assert 1e-4 < res.suggestion < res.divergence_lr
    assert res.losses[0] > min(res.losses)  # it trained before diverging
    np.testing.assert_array_equal(np.asarray(model.hidden.kernel[...]), kernel)
    path = tmp_path / "lr_find.png"
    res.plot(path=path)
    assert path.stat().st_size > 10_000


BAD = [
    ("start_above_end", dict(start_lr=1.0, end_lr=0.1), ValueError, "need 0 < start_lr < end_lr"),
    ("zero_start", dict(start_lr=0.0), ValueError, "need 0 < start_lr < end_lr"),
    ("nan_end", dict(end_lr=float("nan")), ValueError, "end_lr must be finite"),
    ("one_step", dict(num_steps=1), ValueError, r"num_steps must be in \[2"),
    ("mode", dict(mode="log"), ValueError, "mode must be one of"),
    ("beta", dict(beta=1.0), ValueError, r"beta must be in \[0, 1\)"),
    ("threshold", dict(diverge_threshold=1.0), ValueError, "diverge_threshold must be > 1"),
    ("optimizer", dict(optimizer=optax.sgd(0.1)), TypeError, "optimizer must be an optax "
     "optimizer factory"),
    ("loss", dict(loss_fn=3), TypeError, "loss_fn must be callable"),
    ("batches", dict(batches=(jnp.zeros((2, 3)), jnp.zeros((3, 3)))), ValueError,
     "batches must be .*one common leading"),
    ("scalar_batch", dict(batches=jnp.float32(1.0)), ValueError,
     "batches must be .*one common leading"),
]


@pytest.mark.parametrize("kwargs,error,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments_raise_eagerly(kwargs, error, match):
    args = dict(loss_fn=lsq_loss, params=jnp.zeros(10),
                batches=(jnp.zeros((1, 4, 10)), jnp.zeros((1, 4))))
    args.update(kwargs)
    with pytest.raises(error, match=f"jaxsched.find_lr: {match}"):
        jaxsched.find_lr(**args)
