"""``jaxsched sweep``: a grid search (``jaxsched.grid_search``) on a built-in problem, the
scikit-learn digits MLP of the examples and notebooks (64 -> 128 -> 10, softmax cross
entropy; 1437 training and 360 validation images).

    jaxsched sweep --lrs 0.001 0.003 0.01 0.03 [--optimizer adam] [--steps 300]
    jaxsched sweep --schedules "StepLR step_size=100 gamma=0.3 lr=0.01" \
                               "CosineAnnealingLR T_max=300 lr=0.01"
    jaxsched sweep --lrs 0.3 1 3 --schedules "CosineAnnealingLR T_max=300 lr=0.01"

prints the table (final train and validation loss per candidate, the best marked) and writes
the figure (loss above, lr beneath).
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import shlex
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["add_parser", "cmd_sweep", "digits_problem"]

OPTIMIZERS = {"adam": optax.adam, "sgd": optax.sgd,
              "momentum": functools.partial(optax.sgd, momentum=0.9), "adamw": optax.adamw}


def digits_problem(batch_size: int = 64, seed: int = 0) -> dict[str, Any]:
    """The digits MLP as ``grid_search`` takes it: ``loss_fn``, ``params``, ``batches``
    (one epoch of shuffled mini-batches), ``val_fn`` and ``steps_per_epoch``.

    Raises:
        ImportError: without scikit-learn (``pip install 'jaxsched[cli]'``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("the built-in digits problem needs scikit-learn: pip install "
                          "'jaxsched[cli]' (or scikit-learn)") from err
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    cut = int(0.8 * len(x))
    b = cut // batch_size
    if b < 1:
        raise ValueError(f"jaxsched sweep: --batch-size must be in [1, {cut}], "
                         f"got {batch_size}")
    xb = x[: b * batch_size].reshape(b, batch_size, 64)
    yb = y[: b * batch_size].reshape(b, batch_size)
    x_val, y_val = jnp.asarray(x[cut:]), jnp.asarray(y[cut:])
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    init = jax.nn.initializers.lecun_normal()  # flax nnx.Linear's default
    params = {"hidden": {"kernel": init(k1, (64, 128)), "bias": jnp.zeros(128)},
              "out": {"kernel": init(k2, (128, 10)), "bias": jnp.zeros(10)}}

    def logits(p: Any, xs: jax.Array) -> jax.Array:
        h = jax.nn.relu(xs @ p["hidden"]["kernel"] + p["hidden"]["bias"])
        return h @ p["out"]["kernel"] + p["out"]["bias"]

    def loss_fn(p: Any, batch: Any) -> jax.Array:
        xs, ys = batch
        return optax.softmax_cross_entropy_with_integer_labels(logits(p, xs), ys).mean()

    def val_fn(p: Any) -> jax.Array:
        return loss_fn(p, (x_val, y_val))

    def accuracy(p: Any) -> float:
        return float(jnp.mean(jnp.argmax(logits(p, x_val), -1) == y_val))

    return {"loss_fn": loss_fn, "params": params, "batches": (jnp.asarray(xb), jnp.asarray(yb)),
            "val_fn": val_fn, "steps_per_epoch": b, "accuracy": accuracy}


def add_parser(sub: Any, commands: dict[str, Any]) -> None:
    """Registers ``sweep`` on the ``jaxsched`` subparsers and in its command table."""
    p = sub.add_parser(
        "sweep", help="grid search of lrs or schedules on the digits MLP, in one compiled run",
        description="Train the scikit-learn digits MLP (64-128-10) with K learning rates or K "
        "schedules side by side (jaxsched.grid_search: one compiled, vmapped run; every "
        "candidate from the same init on the same batches); print final train and "
        "validation losses and draw loss and lr against step. Needs scikit-learn "
        "(pip install 'jaxsched[cli]').",
        epilog='examples: jaxsched sweep --lrs 0.001 0.003 0.01 0.03 | jaxsched sweep '
        '--schedules "StepLR step_size=100 gamma=0.3 lr=0.01" "CosineAnnealingLR T_max=300 '
        'lr=0.01" | jaxsched sweep --lrs 0.5 1 2 --schedules "CosineAnnealingLR T_max=300"')
    p.add_argument("--lrs", nargs="+", type=float, metavar="LR",
                   help="constant lrs (with one --schedules: multipliers on it)")
    p.add_argument("--schedules", nargs="+", metavar='"NAME key=value ..."',
                   help="schedules as `jaxsched plot` takes them, one quoted spec each")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                   help="optax optimizer (default adam; momentum: sgd with momentum 0.9)")
    p.add_argument("--steps", type=int, default=300, help="updates per candidate (300)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size (64)")
    p.add_argument("--seed", type=int, default=0, help="data split and init seed (0)")
    p.add_argument("-o", "--output", type=pathlib.Path,
                   help="the PNG to write (default: out/sweep.png)")
    commands["sweep"] = cmd_sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    """Runs ``jaxsched sweep``; returns the exit status."""
    import jaxsched
    from jaxsched.tools import catalog
    from jaxsched.tools.cli_common import UsageError, _save, parse_specs

    if not args.lrs and not args.schedules:
        raise UsageError("give --lrs LR ... and/or --schedules \"NAME key=value\" ...")
    try:
        problem = digits_problem(args.batch_size, args.seed)
    except ImportError as err:
        raise UsageError(str(err)) from None
    schedules = names = None
    if args.schedules:
        specs = [parse_specs(shlex.split(text)) for text in args.schedules]
        if any(len(s) != 1 for s in specs):
            raise UsageError("each --schedules entry is one quoted spec: \"NAME key=value\"")
        schedules = [catalog.build(n, s) for ((n, s),) in specs]
        names = [" ".join(shlex.split(text)) for text in args.schedules]
        if args.lrs:
            if len(schedules) != 1:
                raise UsageError("--lrs with --schedules takes one schedule (the lrs are "
                                 "multipliers on it)")
            names = [f"{a:g} x {names[0]}" for a in args.lrs]
            schedules = schedules[0]
    res = jaxsched.grid_search(
        problem["loss_fn"], problem["params"], problem["batches"],
        OPTIMIZERS[args.optimizer], num_steps=args.steps, lrs=args.lrs, schedules=schedules,
        names=names, val_fn=problem["val_fn"])
    print(f"digits MLP, {args.optimizer}, {args.steps} steps "
          f"({problem['steps_per_epoch']} batches of {args.batch_size} an epoch), "
          f"{len(res.names)} candidates in one compiled run on {res.n_devices} device(s)")
    print(res.table())
    fig = res.plot(title=f"jaxsched sweep: digits MLP, {args.optimizer}, "
                   f"{len(res.names)} candidates"
                   + (f" (best: {res.best_name})" if res.best is not None else ""))
    _save(fig, args.output or pathlib.Path("out") / "sweep.png")
    return 0
