"""Train a Flax nnx MLP on scikit-learn's digits with DeepSpeed's WarmupCosineLR.

    python examples/digits_warmup_cosine.py

The schedule is a pure jaxsched function of optax's step count inside the optimizer (lr and
the values in force are read back from the optimizer state): no host work per step.
"""

from __future__ import annotations

import sys

import jax
import optax
from flax import nnx

import jaxsched

from common import MLP, accuracy, digits, make_train_step

STEPS, BATCH = 400, 128


def main() -> int:
    x, y, x_val, y_val = digits()
    model = MLP(nnx.Rngs(0))
    # ds_config: {"type": "WarmupCosineLR", "params": {"total_num_steps": 400,
    #             "warmup_num_steps": 40, "warmup_type": "linear"}} with optimizer lr 3e-3
    schedule = jaxsched.warmup_cosine_lr(STEPS, warmup_num_steps=40, warmup_type="linear",
                                         cos_min_ratio=0.01, lr=3e-3)
    optimizer = nnx.Optimizer(model, jaxsched.scheduled(optax.adamw, schedule,
                                                        weight_decay=1e-4), wrt=nnx.Param)
    traces = []

    train_step = make_train_step(traces)

    key = jax.random.key(0)
    for step in range(STEPS):
        idx = jax.random.randint(jax.random.fold_in(key, step), (BATCH,), 0, len(x))
        loss = train_step(model, optimizer, x[idx], y[idx])
        if step % 50 == 0 or step == STEPS - 1:
            lr = float(optimizer.opt_state.hyperparams["learning_rate"][...])
            print(f"step {step:4d}  loss {float(loss):.4f}  lr in force {lr:.3e}  "
                  f"(schedule {float(schedule(step)):.3e})")
    acc = accuracy(model, x_val, y_val)
    print(f"validation accuracy {acc:.3f}; train step traced {len(traces)} time(s)")
    return 0 if acc > 0.9 and len(traces) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
