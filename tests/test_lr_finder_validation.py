"""``find_lr``'s suggestions validated on problems whose divergence lr is known: for full-batch
SGD on a quadratic loss an update diverges once ``lr > 2 / lambda_max`` (the Hessian's
largest eigenvalue, computed here exactly). Every suggestion must land below that lr and
within 1000x of it, on clean and on noisy (mini-batch, label noise) problems, well- and
ill-conditioned, a plain quadratic and a Flax model."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxsched


def least_squares(n=256, d=8, cond=1.0, noise=0.0, batches=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.logspace(0, np.log10(cond), d) ** 0.5
    y = x @ rng.normal(size=d) + noise * rng.normal(size=n)
    lam = np.linalg.eigvalsh(2 * x.T @ x / n).max()  # of the full-data loss

    def loss(w, b):
        return jnp.mean((b[0] @ w - b[1]) ** 2)

    data = (x.reshape(batches, n // batches, d).astype(np.float32),
            y.reshape(batches, n // batches).astype(np.float32))
    return loss, jnp.zeros(d), data, 2 / lam


def quadratic(d=32, seed=5):
    """``0.5 (w - w*)^T A (w - w*)`` with eigenvalues spread over [0.01, 4]."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a = (q * np.geomspace(0.01, 4.0, d)) @ q.T
    target = rng.normal(size=d)

    def loss(w, _):
        e = w - target
        return 0.5 * e @ jnp.asarray(a, jnp.float32) @ e

    return loss, jnp.zeros(d), jnp.zeros((1, 1)), 2 / 4.0


def flax_linear(seed=0):
    """A Flax nnx Linear layer regressing generated data (its loss is quadratic in the
    kernel and bias: lambda_max of [x 1]^T [x 1] * 2 / n)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(128, 6)).astype(np.float32) * np.asarray([1, 1, 2, 2, 3, 3], np.float32)
    y = (x @ rng.normal(size=(6, 1)) + 0.5).astype(np.float32)
    model = nnx.Linear(6, 1, rngs=nnx.Rngs(seed))
    graphdef, state = nnx.split(model)
    xa = np.hstack([x, np.ones((128, 1), np.float32)])
    lam = np.linalg.eigvalsh(2 * xa.T @ xa / 128).max()

    def loss(state, b):
        return jnp.mean((nnx.merge(graphdef, state)(b[0]) - b[1]) ** 2)

    return loss, state, (x[None], y[None]), 2 / lam


PROBLEMS = {
    "least-squares": lambda: least_squares(),
    "least-squares-ill-conditioned": lambda: least_squares(cond=1e3),
    "quadratic": quadratic,
    "flax-linear": flax_linear,
    **{f"noisy-minibatches-{seed}": (lambda seed=seed: least_squares(
        n=1024, noise=1.0, batches=16, seed=seed)) for seed in range(5)},
    "noisy-ill-conditioned": lambda: least_squares(n=1024, cond=100, noise=0.5, batches=32,
                                                   seed=3),
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_suggestion_lands_below_and_within_1000x_of_the_divergence_lr(name):
    loss, params, batches, limit = PROBLEMS[name]()
    result = jaxsched.find_lr(loss, params, batches)  # the default sweep, 1e-7 .. 10
    assert result.diverged
    if "noisy" not in name:  # exact for a quadratic; mini-batch Hessians vary about it
        assert result.divergence_lr == pytest.approx(limit, rel=0.2)
    assert set(result.suggestions) == {"valley", "steepest", "minimum/10"}
    for method, lr in result.suggestions.items():
        assert limit / 1000 <= lr < limit, (name, method, lr / limit)
