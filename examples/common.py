"""Shared pieces of the examples: scikit-learn's digits (shipped with the package, nothing is
downloaded) and a small Flax nnx MLP."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits


def digits(seed: int = 0):
    """(x_train, y_train, x_val, y_val): 1797 8x8 digits, scaled to [0, 1], 80/20 split."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    cut = int(0.8 * len(x))
    return jnp.asarray(x[:cut]), jnp.asarray(y[:cut]), jnp.asarray(x[cut:]), jnp.asarray(y[cut:])


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(64, 128, rngs=rngs)
        self.out = nnx.Linear(128, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def loss_fn(model: MLP, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def accuracy(model: MLP, x, y) -> float:
    return float(jnp.mean(jnp.argmax(model(x), axis=-1) == y))


def make_train_step(traces: list):
    """A jitted nnx train step; appends to ``traces`` each time it is traced."""

    @nnx.jit
    def train_step(model, optimizer, xb, yb):
        traces.append(1)
        loss, grads = nnx.value_and_grad(loss_fn)(model, xb, yb)
        optimizer.update(model, grads)
        return loss

    return train_step
