"""Counts at frontier scale inside a jitted step: each row a ``lax.scan`` of SGD updates on 8
parameters with a jaxsched schedule and with optax's nearest schedule, side by side
(interleaved rounds, medians), in the default float32 mode.

    .venv/bin/python bench/counts.py [--rounds 15] [--steps 20000]

Rows: torch's cosine at ``T_max`` 2e4 and at a realistic 1e6 (vs
``optax.cosine_decay_schedule``); Megatron's cosine on the samples clock with a batch ramp
and DeepSeek-V3 in tokens with its batch ramp, each against optax's warmup-cosine on the
step (not the same schedule: no ramp) and on a float32 ramp clock written as optax users
would (a sum of clipped segments, the nearest optax equivalent); ``epoch_clock`` with
``units=1000``; a ``WideCount`` in ``scheduled`` from 0 and past 2**32, on 8 parameters and
in a small MLP's training step (the cost beside a real, if tiny, model).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import jaxsched
from run import interleaved, ready, scanned, table


def _strided(schedule, stride: int):
    """``schedule`` at every ``stride``-th count: a scan of n updates spans n * stride counts."""
    return lambda count: schedule(count * stride)


def _shifted(schedule, offset: int):
    """``schedule`` from count ``offset`` on."""
    return lambda count: schedule(count + offset)


def _ramp_clock(schedule, iters, consumed, batches, per_unit: float):
    """``schedule`` of a float32 consumed-units clock, ramp as a sum of clipped segments:
    what an optax user writes for Megatron's samples clock (inexact past 2**24 units)."""
    ends = list(iters[1:])
    seg = [(float(i0), float(i1 - i0), b / per_unit)
           for i0, i1, b in zip(iters, ends, batches, strict=False)]
    last_i, last_b = float(iters[-1]), batches[-1] / per_unit

    def value(count):
        k = jnp.asarray(count).astype(jnp.float32)
        units = sum(b * jnp.clip(k - i0, 0.0, n) for i0, n, b in seg)
        return schedule(units + last_b * jnp.maximum(k - last_i, 0.0))
    return value


def _wide_sgd_from(schedule, start: int) -> optax.GradientTransformation:
    """SGD keeping a ``WideCount`` that starts at ``start`` (a run already past 2**32)."""
    def init(params):
        del params
        return jaxsched.WideCount.of(start)

    def update(updates, count, params=None):
        del params
        lr = schedule(count)
        return jax.tree.map(lambda g: -lr * g, updates), count.add(1)
    return optax.GradientTransformation(init, update)


def _mlp_scanned(opt: optax.GradientTransformation, n: int):
    """A jitted scan of ``n`` steps training a 64-64-10 MLP (tanh) on a fixed batch of 128
    (softmax cross-entropy): the smallest realistic step, ~5k parameters."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(128, 64)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, 128))

    def loss(p):
        h = jnp.tanh(x @ p["w1"] + p["b1"])
        logits = h @ p["w2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return scanned(opt, n, grad=jax.grad(loss))


def _mlp_params():
    rng = np.random.default_rng(1)
    return {"w1": jnp.asarray(rng.normal(size=(64, 64)) / 8, jnp.float32),
            "b1": jnp.zeros(64), "w2": jnp.asarray(rng.normal(size=(64, 10)) / 8, jnp.float32),
            "b2": jnp.zeros(10)}


def rows_for(n: int, rounds: int) -> list[dict]:
    lr = 0.1
    # Megatron's schedule in units of 1024 samples (4e9 samples pass int32 without x64)
    mega_args = (4096, [1024, 1024, 10**6])
    mega_lr = jaxsched.megatron.lr_schedule(lr, lr * 0.1, 2000 * 4, 10**6 * 4, "cosine")
    mega = jaxsched.samples_clock(mega_lr, *mega_args, unit=1024)
    mega_optax = optax.warmup_cosine_decay_schedule(0.0, lr, 2000 * 4, 10**6 * 4, lr * 0.1)
    ds = jaxsched.presets.deepseek_v3(peak_lr=lr)
    # DeepSeek-V3's ramp (3072 -> 15360 sequences over 469B tokens) in units of 2**20
    # tokens, optax's warmup-cosine over the same span in those units
    ds_table = jaxsched.rampup_table(15360, [3072, 3072, 469 * 10**9 // 4096])
    ds_unit = 2**20 / 4096  # sequences per unit
    # the paper's five phases as optax writes them, in those units: a linear warmup (2000
    # steps of 3072 sequences), the peak to 10T tokens, a cosine to lr/10 over 4.3T, lr/10
    # for 333B, then 7.3e-6 / 2.2e-4 of the peak
    w_u, b1, b2, b3 = (int(x) for x in (2000 * 3072 / ds_unit, 10e12 / 2**20,
                                        14.3e12 / 2**20, 14.633e12 / 2**20))
    ds_optax = optax.join_schedules([
        optax.linear_schedule(0.0, lr, w_u), optax.constant_schedule(lr),
        optax.cosine_decay_schedule(lr, b2 - b1, alpha=0.1),
        optax.constant_schedule(lr * 0.1), optax.constant_schedule(lr * 7.3e-6 / 2.2e-4)],
        [w_u, b1, b2, b3])
    cosine = jaxsched.cosine_annealing_lr(10**6, lr=lr)
    opt_cosine = optax.cosine_decay_schedule(lr, 10**6)
    cases = [
        ("cosine T_max=2e4", jaxsched.cosine_annealing_lr(20_000, lr=lr),
         optax.cosine_decay_schedule(lr, 20_000)),
        ("cosine T_max=1e6", cosine, opt_cosine),
        # The same two over the whole period: 20000 updates sampled at every 50th count. The
        # row above visits only the first 2% of the period, where optax's cosine argument is
        # below 0.063 and XLA:CPU's float32 cosine takes a cheaper path (a plain cosine of
        # those counts, without the reduction, measures 0.99x optax there).
        ("cosine T_max=1e6, whole period (count*50)", _strided(cosine, 50),
         _strided(opt_cosine, 50)),
        ("megatron cosine, samples clock + ramp (vs optax on the step)", mega, mega_optax),
        ("megatron cosine, samples clock + ramp (vs optax on a float32 ramp clock)", mega,
         _ramp_clock(mega_optax, *jaxsched.rampup_table(*mega_args), 1024)),
        ("deepseek_v3 (tokens, batch ramp) (vs optax on the step)", ds,
         optax.warmup_cosine_decay_schedule(0.0, lr, 2000, 243_761, lr * 0.1)),
        ("deepseek_v3 (tokens, batch ramp) (vs optax's five phases on a float32 ramp clock)",
         ds,
         _ramp_clock(ds_optax, *ds_table, ds_unit)),
        ("epoch_clock units=1000 (step_lr)", jaxsched.epoch_clock(
            jaxsched.step_lr(30_000, 0.5, lr=lr), 391, 1000),
         optax.exponential_decay(lr, 11_730, 0.5, staircase=True)),
        # A wide count (two uint32 limbs in the state; the schedule's float32 formula at the
        # exact int64 count) against optax's int32-counted cosine: from 0; in tokens, a
        # cosine over 1e13 tokens from 2**42 (where optax's count would have saturated);
        # and a cosine of period 2e6 far past its first period (4295 periods: a cyclic
        # schedule at a wide count pays a 64-bit remainder each step)
        ("cosine T_max=1e6, WideCount (scheduled, wide_count=True)",
         jaxsched.scheduled(optax.sgd, cosine, wide_count=True), opt_cosine),
        # (XLA:CPU's float32 cosine costs more at larger angles, so the baseline runs at the
        # same angle: optax from count 439805 of 1e6 is 2**42 of 1e13; past the first
        # period, where optax holds, the baseline is the same schedule at an int32 count of
        # the same phase, 2**33 mod 2e6 = 1934592, also past its first period: the cost of
        # the 64-bit count alone)
        ("cosine T_max=1e13 (tokens), WideCount from 2**42",
         _wide_sgd_from(jaxsched.cosine_annealing_lr(10**13, lr=lr), 2**42),
         _shifted(opt_cosine, 439_805)),
        ("cosine T_max=1e6, WideCount from 2**33, past 4295 periods (baseline: jaxsched at "
         "the int32 count 2001934592, the same phase)",
         _wide_sgd_from(cosine, 2**33), _shifted(cosine, 1000 * 2 * 10**6 + 1_934_592)),
    ]
    rows = []
    w0 = jnp.ones(8)
    for name, ours, theirs in cases:
        runs = {k: scanned(s if isinstance(s, optax.GradientTransformation)
                           else optax.sgd(learning_rate=s), n)
                for k, s in (("jaxsched", ours), ("optax", theirs), ("constant", lr))}
        t = interleaved({k: (lambda f=f: ready(f(w0))) for k, f in runs.items()}, rounds)
        rows.append(_row(name, t))
    # the same wide count in a small MLP's step (n // 10 steps: each is ~100x the work)
    m = max(1, n // 10)
    p0 = _mlp_params()
    runs = {"jaxsched": _mlp_scanned(jaxsched.scheduled(optax.sgd, cosine, wide_count=True), m),
            "optax": _mlp_scanned(optax.sgd(opt_cosine), m),
            "constant": _mlp_scanned(optax.sgd(lr), m)}
    t = interleaved({k: (lambda f=f: ready(f(p0))) for k, f in runs.items()}, rounds)
    rows.append(_row(f"cosine T_max=1e6, WideCount, in a 64-64-10 MLP step (batch 128; {m} "
                     f"steps)", t))
    return rows


def _row(name: str, t: dict[str, float]) -> dict:
    """A table row: microseconds per run (3 significant digits) and the ratio."""
    def us(v: float) -> str:
        return f"{v * 1e6:.3g}" if v < 1e-3 else f"{v * 1e6:.0f}"
    return {"schedule": name, **{f"{k} µs": us(v) for k, v in t.items()},
            "ratio vs optax": round(t["jaxsched"] / t["optax"], 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=20_000)
    a = ap.parse_args(argv)
    print(table(rows_for(a.steps, a.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
