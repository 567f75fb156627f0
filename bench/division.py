"""What XLA's float64 division does on this backend, and what the correctly rounded
replacement (``jaxsched.exact.divide``) costs.

    python bench/division.py [--out bench]

Accuracy: for integer counts ``k`` and divisors ``T`` drawn as schedules see them (``T``
log-uniform over 1..10**6, a compile-time constant as in a schedule; ``k`` uniform below
``T`` and log-uniform up to 2**31-1), the share of quotients where ``jax.jit`` of ``k / T``
differs from Python's correctly rounded ``float(k) / float(T)``, and by how many ulps.
Cost: ``jax.jit(jax.vmap(...))`` over 10**6 counts, plain division vs ``divide``, medians of
interleaved rounds. Writes ``division.md``.
"""

from __future__ import annotations

import argparse
import pathlib
import platform
import statistics
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxsched.core.exact import divide  # noqa: E402


def accuracy(n_divisors: int, per: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    total = wrong = wrong_divide = 0
    worst = 0
    for _ in range(n_divisors):
        t = round(float(10 ** rng.uniform(0, 6)))
        k = np.concatenate([rng.integers(0, t + 1, per // 2),
                            (10 ** rng.uniform(0, np.log10(2**31 - 1), per - per // 2))
                            .astype(np.int64)])
        plain = np.asarray(jax.jit(jax.vmap(lambda c, t=t: c.astype(jnp.float64) / t))(k))
        exact = np.asarray(jax.jit(jax.vmap(lambda c, t=t: divide(c, t)))(k))
        python = np.asarray([float(c) / float(t) for c in k.tolist()])
        ulps = np.abs(plain.view(np.int64) - python.view(np.int64))
        total += len(k)
        wrong += int(np.count_nonzero(ulps))
        worst = max(worst, int(ulps.max()))
        wrong_divide += int(np.count_nonzero(exact != python))
    return {"quotients": total, "plain_wrong": wrong, "plain_share": wrong / total,
            "plain_worst_ulps": worst, "divide_wrong": wrong_divide}


def cost(n: int, rounds: int) -> dict[str, float]:
    k = jnp.arange(n, dtype=jnp.int64) * 2147 % (2**31 - 1)
    t = 999_983
    fns = {"plain k/T (float64)": jax.jit(jax.vmap(lambda c: c.astype(jnp.float64) / t)),
           "exact.divide (float64)": jax.jit(jax.vmap(lambda c: divide(c, t))),
           "plain k/T (float32)": jax.jit(jax.vmap(
               lambda c: c.astype(jnp.float32) / jnp.float32(t)))}
    k32 = k.astype(jnp.int32)
    args = {name: (k32 if "float32" in name else k) for name in fns}
    for name, f in fns.items():
        jax.block_until_ready(f(args[name]))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(args[name]))
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    acc = accuracy(20 if args.quick else 200, 2000)
    n = 10**6
    times = cost(n, 5 if args.quick else 31)
    base = times["plain k/T (float64)"]
    backend = f"{jax.default_backend()} ({jax.devices()[0].device_kind})"
    md = ["# Float64 division under XLA", "",
          f"`python bench/division.py` on {platform.platform()}, jax {jax.__version__}, "
          f"backend {backend}.", "",
          "## Accuracy of `k / T` (T a compile-time constant, as in a schedule)", "",
          f"- {acc['quotients']} quotients (200 divisors T log-uniform over 1..10^6; k below T "
          f"and log-uniform up to 2^31-1).",
          f"- XLA's `k / T`: {acc['plain_wrong']} differ from Python's correctly rounded "
          f"quotient ({100 * acc['plain_share']:.2f}%, about 1 in "
          f"{1 / max(acc['plain_share'], 1e-12):.0f}), by at most "
          f"{acc['plain_worst_ulps']} ulp: XLA rewrites the division by a constant as a "
          f"multiplication by its reciprocal.",
          f"- `jaxsched.exact.divide`: {acc['divide_wrong']} differ.", "",
          "One ulp in a quotient is harmless where the quotient only scales a value (jaxsched "
          "uses a plain division there); it matters where a floor, a `% 1.0`, a cycle index or "
          "a large multiple amplifies it (a cosine's phase far out, a restart position). "
          "Those go through `divide`, or avoid the quotient altogether with integer "
          "arithmetic (`k mod T`, `T - k`).", "",
          f"## Cost: `jax.jit(jax.vmap(f))` over {n} counts (medians of interleaved rounds)",
          "", "| f | ms | vs plain float64 |", "| --- | --- | --- |",
          *[f"| {name} | {t * 1e3:.3f} | {t / base:.2f}x |" for name, t in times.items()], ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "division.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
