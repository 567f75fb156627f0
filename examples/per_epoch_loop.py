"""A torch-style per-epoch loop, ported: OneCycleLR stepped per epoch, then ReduceLROnPlateau
on the validation loss, both writing into a Flax nnx optimizer.

    python examples/per_epoch_loop.py

The torch original:

    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    onecycle = OneCycleLR(opt, max_lr=0.2, total_steps=CYCLE_EPOCHS)
    plateau = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    for epoch in range(EPOCHS):
        train_one_epoch(...)
        val_loss = evaluate(...)
        onecycle.step() if epoch < CYCLE_EPOCHS else plateau.step(val_loss)

Here the adapters keep torch's interface and ``apply`` writes their lr (and OneCycleLR's
momentum) into the optimizer state between epochs: the jitted step compiles once.
"""

from __future__ import annotations

import sys

import jax
import optax
from flax import nnx

import jaxsched

from common import MLP, accuracy, digits, loss_fn, make_train_step

EPOCHS, CYCLE_EPOCHS, BATCH = 16, 10, 64


def main() -> int:
    x, y, x_val, y_val = digits()
    model = MLP(nnx.Rngs(1))
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=0.9)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    onecycle = jaxsched.OneCycleLR(optimizer.opt_state, max_lr=0.2, total_steps=CYCLE_EPOCHS)
    plateau = jaxsched.ReduceLROnPlateau(0.01, patience=1, factor=0.5)  # fine-tuning phase
    traces = []

    train_step = make_train_step(traces)

    steps_per_epoch = len(x) // BATCH
    for epoch in range(EPOCHS):
        active = onecycle if epoch < CYCLE_EPOCHS else plateau
        active.apply(optimizer)  # the lr (and momentum) in force for this epoch
        perm = jax.random.permutation(jax.random.key(epoch), len(x))
        for b in range(steps_per_epoch):
            idx = perm[b * BATCH:(b + 1) * BATCH]
            train_step(model, optimizer, x[idx], y[idx])
        val_loss = float(loss_fn(model, x_val, y_val))
        hyper = optimizer.opt_state.hyperparams
        lr = float(hyper['learning_rate'][...])
        print(f"epoch {epoch:2d}  {type(active).__name__:17s} lr {lr:.4f}"
              f"  momentum {float(hyper['momentum'][...]):.3f}  val loss {val_loss:.4f}")
        if epoch < CYCLE_EPOCHS - 1:
            onecycle.step()
        elif epoch >= CYCLE_EPOCHS:
            plateau.step(val_loss)
    acc = accuracy(model, x_val, y_val)
    print(f"validation accuracy {acc:.3f}; train step traced {len(traces)} time(s)")
    return 0 if acc > 0.9 and len(traces) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
