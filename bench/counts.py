"""Counts at frontier scale inside a jitted step: each row a ``lax.scan`` of SGD updates on 8
parameters with a jaxsched schedule and with optax's nearest schedule, side by side
(interleaved rounds, medians), in the default float32 mode.

    .venv/bin/python bench/counts.py [--rounds 15] [--steps 20000]

Rows: torch's cosine at ``T_max`` 2e4 and at a realistic 1e6 (vs
``optax.cosine_decay_schedule``); Megatron's cosine on the samples clock with a batch ramp
(vs optax's warmup-cosine on the step); DeepSeek-V3 in tokens with its batch ramp (vs the
same); ``epoch_clock`` with ``units=1000``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax.numpy as jnp
import optax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import jaxsched
from run import interleaved, ready, scanned, table


def _strided(schedule, stride: int):
    """``schedule`` at every ``stride``-th count: a scan of n updates spans n * stride counts."""
    return lambda count: schedule(count * stride)


def rows_for(n: int, rounds: int) -> list[dict]:
    lr = 0.1
    # Megatron's schedule in units of 1024 samples (4e9 samples pass int32 without x64)
    mega = jaxsched.samples_clock(jaxsched.megatron.lr_schedule(
        lr, lr * 0.1, 2000 * 4, 10**6 * 4, "cosine"), 4096, [1024, 1024, 10**6], unit=1024)
    cases = [
        ("cosine T_max=2e4", jaxsched.cosine_annealing_lr(20_000, lr=lr),
         optax.cosine_decay_schedule(lr, 20_000)),
        ("cosine T_max=1e6", jaxsched.cosine_annealing_lr(10**6, lr=lr),
         optax.cosine_decay_schedule(lr, 10**6)),
        # The same two over the whole period: 20000 updates sampled at every 50th count. The
        # row above visits only the first 2% of the period, where optax's cosine argument is
        # below 0.063 and XLA:CPU's float32 cosine takes a cheaper path (a plain cosine of
        # those counts, without the reduction, measures 0.99x optax there).
        ("cosine T_max=1e6, whole period (count*50)",
         _strided(jaxsched.cosine_annealing_lr(10**6, lr=lr), 50),
         _strided(optax.cosine_decay_schedule(lr, 10**6), 50)),
        ("megatron cosine, samples clock + ramp", mega,
         optax.warmup_cosine_decay_schedule(0.0, lr, 2000, 10**6, lr * 0.1)),
        ("deepseek_v3 (tokens, batch ramp)", jaxsched.presets.deepseek_v3(peak_lr=lr),
         optax.warmup_cosine_decay_schedule(0.0, lr, 2000, 243_761, lr * 0.1)),
        ("epoch_clock units=1000 (step_lr)", jaxsched.epoch_clock(
            jaxsched.step_lr(30_000, 0.5, lr=lr), 391, 1000),
         optax.exponential_decay(lr, 11_730, 0.5, staircase=True)),
    ]
    # A wide count (two uint32 limbs in the state, the schedule's float32 formula at the
    # exact int64 count) past
    # 2**32, as a 15T-token run counts, against optax's int32-counted cosine
    wide = jaxsched.scheduled(optax.sgd, jaxsched.cosine_annealing_lr(10**6, lr=lr),
                              wide_count=True)
    cases.append(("cosine T_max=1e6, WideCount (scheduled, wide_count=True)", wide,
                  optax.cosine_decay_schedule(lr, 10**6)))
    rows = []
    w0 = jnp.ones(8)
    for name, ours, theirs in cases:
        runs = {k: scanned(s if isinstance(s, optax.GradientTransformation)
                           else optax.sgd(learning_rate=s), n)
                for k, s in (("jaxsched", ours), ("optax", theirs), ("constant", lr))}
        t = interleaved({k: (lambda f=f: ready(f(w0))) for k, f in runs.items()}, rounds)
        rows.append({"schedule": name, "params": "(8,)", "steps": n,
                     **{f"{k}_s": v for k, v in t.items()},
                     "ratio_vs_optax": t["jaxsched"] / t["optax"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20_000)
    a = ap.parse_args(argv)
    print(table(rows_for(a.steps, a.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
