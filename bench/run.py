"""jaxsched's benchmark suite: jaxsched vs optax vs torch (and timm / Megatron's schedulers,
which step torch optimizers), side by side in one process.

    python bench/run.py [--quick] [--out bench]

Every figure interleaves its contenders round by round (so machine noise hits them alike)
and reports the median of the rounds and the ratio of medians. Results go to
``bench/RESULTS.md`` and ``bench/results.json`` (``--out`` elsewhere). Targets:
curve and in-step cost <= 1.10x optax's, curve >= 200x faster than torch's loop,
``adapter.step()`` <= 0.5x torch's ``scheduler.step()``, exactly one trace.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

import jaxsched


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each contender, run in turn within each round."""
    for f in contenders.values():  # warm up: compile, caches
        f()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, f in contenders.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def ready(x):
    return jax.block_until_ready(x)


# (name, jaxsched schedule, optax equivalent, torch scheduler factory)
def pairs(total: int):
    import torch

    lr = 0.1
    w, d = total // 20, total // 5
    return [
        ("cosine", jaxsched.cosine_annealing_lr(total, lr=lr),
         optax.cosine_decay_schedule(lr, total),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, total)),
        ("step decay", jaxsched.step_lr(total // 10, 0.5, lr=lr),
         optax.exponential_decay(lr, total // 10, 0.5, staircase=True),
         lambda o: torch.optim.lr_scheduler.StepLR(o, total // 10, 0.5)),
        ("one-cycle", jaxsched.one_cycle_lr(lr, total_steps=total, cycle_momentum=False),
         optax.cosine_onecycle_schedule(total, lr),
         lambda o: torch.optim.lr_scheduler.OneCycleLR(o, lr, total_steps=total,
                                                       cycle_momentum=False)),
        ("warmup-cosine", jaxsched.warmup_cosine_lr(total, warmup_num_steps=total // 20,
                                                    warmup_type="linear", lr=lr),
         optax.warmup_cosine_decay_schedule(0.0, lr, total // 20, total, lr * 1e-4),
         None),  # torch has no warmup-cosine scheduler; DeepSpeed's is timed below
        ("timm cosine+warmup", jaxsched.timm.cosine_lr(total, lr=lr, lr_min=lr * 1e-4,
                                                       warmup_t=w),
         optax.warmup_cosine_decay_schedule(0.0, lr, w, total, lr * 1e-4),
         lambda o: Counted(timm_scheduler("CosineLRScheduler", o, t_initial=total,
                                          lr_min=lr * 1e-4, warmup_t=w, t_in_epochs=False),
                           lambda s, k: s.step_update(k))),
        ("keras cosine+warmup", jaxsched.keras.CosineDecay(0.0, total - w, alpha=1e-4,
                                                           warmup_target=lr, warmup_steps=w),
         optax.warmup_cosine_decay_schedule(0.0, lr, w, total, lr * 1e-4),
         None),  # Keras has no scheduler object to step: its schedule is a function
        ("megatron WSD", jaxsched.megatron.lr_schedule(lr, lr * 0.1, w, total, "WSD",
                                                       wsd_decay_steps=d,
                                                       lr_wsd_decay_style="linear"),
         optax.join_schedules([optax.linear_schedule(0.0, lr, w), optax.constant_schedule(lr),
                               optax.linear_schedule(lr, lr * 0.1, d)], [w, total - d]),
         lambda o: Counted(megatron_scheduler(o, max_lr=lr, min_lr=lr * 0.1, init_lr=0.0,
                                              lr_warmup_steps=w, lr_decay_steps=total,
                                              lr_decay_style="WSD", wsd_decay_steps=d,
                                              lr_wsd_decay_style="linear", start_wd=0.0,
                                              end_wd=0.0, wd_incr_steps=total,
                                              wd_incr_style="constant"),
                           lambda s, k: s.step(1))),
    ]


class Counted:
    """A scheduler stepped with an explicit count (timm's ``step_update(k)``) or increment
    (Megatron's ``step(1)``), behind torch's ``step()``."""

    def __init__(self, sched, call):
        self.sched, self.call, self.k = sched, call, 0

    def step(self):
        self.k += 1
        self.call(self.sched, self.k)


def timm_scheduler(name, optimizer, **kw):
    from jaxsched.tools import catalog

    return getattr(catalog.import_timm_schedulers(), name)(optimizer, **kw)


def megatron_scheduler(optimizer, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
    return OptimizerParamScheduler(optimizer, **kw)


def torch_loop_seconds_per_step(make, n: int) -> float:
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = make(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        for _ in range(n - 1):
            sched.step()
            _ = opt.param_groups[0]["lr"]
    return (time.perf_counter() - t0) / n


def bench_curves(n: int, n_torch: int, rounds: int) -> list[dict]:
    steps = jnp.arange(n, dtype=jnp.int32)
    rows = []
    for name, ours, theirs, torch_make in pairs(n):
        f_ours, f_optax = jax.jit(jax.vmap(ours)), jax.jit(jax.vmap(theirs))
        t = interleaved({"jaxsched": lambda f=f_ours: ready(f(steps)),
                         "optax": lambda f=f_optax: ready(f(steps))}, rounds)
        row = {"schedule": name, "steps": n, "jaxsched_s": t["jaxsched"], "optax_s": t["optax"],
               "ratio_vs_optax": t["jaxsched"] / t["optax"]}
        if torch_make is not None:
            per_step = statistics.median(torch_loop_seconds_per_step(torch_make, n_torch)
                                         for _ in range(3))
            row["torch_s_extrapolated"] = per_step * n
            row["speedup_vs_torch"] = per_step * n / t["jaxsched"]
        rows.append(row)
    return rows


def scanned(opt: optax.GradientTransformation, n: int,
            grad: Callable[[object], object] | None = None) -> Callable[[object], object]:
    """A jitted ``lax.scan`` of ``n`` updates of ``opt``; the gradient is ``grad(params)``,
    by default the params themselves."""
    @jax.jit
    def run(params):
        def body(carry, _):
            p, state = carry
            updates, state = opt.update(p if grad is None else grad(p), state, p)
            return (optax.apply_updates(p, updates), state), None

        (params, _), _ = jax.lax.scan(body, (params, opt.init(params)), None, length=n)
        return params
    return run


def bench_in_step(shapes: list[tuple[tuple[int, ...], int]], rounds: int) -> list[dict]:
    """A lax.scan of an SGD update on params of each shape, where the schedule is much of
    the work: a scalar over many steps, and small vectors over the lengths people train."""
    rows = []
    for shape, n in shapes:
        for name, ours, theirs, _ in pairs(n):
            w0 = jnp.ones(shape)
            runs = {k: scanned(optax.sgd(learning_rate=s), n)
                    for k, s in (("jaxsched", ours), ("optax", theirs), ("constant", 0.1))}
            t = interleaved({k: (lambda f=f, w=w0: ready(f(w))) for k, f in runs.items()},
                            rounds)
            rows.append({"schedule": name, "params": str(shape or "scalar"), "steps": n,
                         **{f"{k}_s": v for k, v in t.items()},
                         "ratio_vs_optax": t["jaxsched"] / t["optax"],
                         "overhead_vs_constant": t["jaxsched"] / t["constant"]})
    return rows


def bench_adapter_step(n: int, rounds: int) -> list[dict]:
    import deepspeed.runtime.lr_schedules as ds
    import torch

    def torch_opt():
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)

    cases = [
        ("OneCycleLR", lambda: jaxsched.OneCycleLR([{"lr": 0.1, "momentum": 0.9}], 0.1,
                                                   total_steps=10 * n * rounds),
         lambda: torch.optim.lr_scheduler.OneCycleLR(torch_opt(), 0.1,
                                                     total_steps=10 * n * rounds)),
        ("CosineAnnealingLR", lambda: jaxsched.CosineAnnealingLR(0.1, T_max=1000),
         lambda: torch.optim.lr_scheduler.CosineAnnealingLR(torch_opt(), T_max=1000)),
        ("WarmupCosineLR (DeepSpeed)",
         lambda: jaxsched.WarmupCosineLR(0.1, 10**7, warmup_num_steps=100),
         lambda: ds.WarmupCosineLR(torch_opt(), 10**7, warmup_num_steps=100)),
    ]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, ours_make, theirs_make in cases:
            ours, theirs = ours_make(), theirs_make()

            def many(s):
                for _ in range(n):
                    s.step()

            t = interleaved({"jaxsched": lambda s=ours: many(s),
                             "torch": lambda s=theirs: many(s)}, rounds)
            rows.append({"scheduler": name, "calls": n,
                         "jaxsched_us_per_step": t["jaxsched"] / n * 1e6,
                         "torch_us_per_step": t["torch"] / n * 1e6,
                         "ratio_vs_torch": t["jaxsched"] / t["torch"]})
    return rows


def bench_traces(n: int) -> list[dict]:
    """Traces of a jitted step over n steps with the lr changing every step."""
    traces = {"pure": 0, "adapter": 0}

    def counted_step(opt, path):
        @jax.jit
        def step(w, state):
            traces[path] += 1
            updates, state = opt.update(w, state, w)
            return optax.apply_updates(w, updates), state
        return step

    s = jaxsched.one_cycle_lr(0.1, total_steps=n)
    opt = jaxsched.scheduled(optax.sgd, s)
    pure_step = counted_step(opt, "pure")
    w, state = jnp.ones(3), opt.init(jnp.ones(3))
    for _ in range(n):
        w, state = pure_step(w, state)
    opt2 = optax.inject_hyperparams(optax.sgd)(learning_rate=0.0, momentum=0.0)
    sched = jaxsched.OneCycleLR([{"lr": 0.1, "momentum": 0.9}], 0.1, total_steps=n)
    adapter_step = counted_step(opt2, "adapter")

    w, state = jnp.ones(3), opt2.init(jnp.ones(3))
    for _ in range(n - 1):
        state = sched.apply(state)
        w, state = adapter_step(w, state)
        sched.step()
    ready(w)
    return [{"path": k, "steps": n, "traces": v} for k, v in traces.items()]


def bench_groups(n: int, rounds: int) -> list[dict]:
    """Param groups on a 12-layer tree (kernels decayed, biases and norms not; layer-wise lr
    decay 0.8**(12 - layer)): ``jaxsched.grouped`` (one schedule evaluation per step) vs
    ``optax.multi_transform`` with one adamw per (layer, decay) group, vs one plain adamw."""
    layers, width = 12, 64
    params = {"embed": {"kernel": jnp.ones((width, width))},
              **{f"layer_{i}": {"kernel": jnp.ones((width, width)), "bias": jnp.ones(width),
                                "norm": jnp.ones(width)} for i in range(layers)},
              "head": {"kernel": jnp.ones((width, 10)), "bias": jnp.ones(10)}}
    sched = jaxsched.warmup_cosine_lr(n, warmup_num_steps=n // 10, warmup_type="linear",
                                      lr=1e-3)

    def layer_of(path):
        if path.startswith("embed"):
            return 0
        return int(path.split("/")[0].split("_")[1]) + 1 if path.startswith("layer") else None

    factor = jaxsched.layerwise(0.8, layers + 1, layer_of)
    groups = jaxsched.param_groups(params, [jaxsched.Rule(r"bias$|norm$", decay=False)],
                                   layer_decay=factor)
    ours = jaxsched.grouped(optax.scale_by_adam(), groups, lr=sched, weight_decay=0.05)
    labels = jax.tree_util.tree_map_with_path(
        lambda path, _: "{}|{}".format(layer_of(jaxsched.path_name(path)),
                                       "nodecay" if jaxsched.path_name(path).endswith(
                                           ("bias", "norm")) else "decay"), params)

    def adamw_for(label):
        layer, kind = label.split("|")
        f = factor("embed" if layer == "0" else "head" if layer == "None"
                   else f"layer_{int(layer) - 1}")
        return optax.adamw(lambda c, f=f: sched(c) * f,
                           weight_decay=0.0 if kind == "nodecay" else 0.05)

    names = sorted(set(jax.tree.leaves(labels)))
    theirs = optax.multi_transform({k: adamw_for(k) for k in names}, labels)
    plain = optax.adamw(sched, weight_decay=0.05)

    runs = {"jaxsched_grouped": scanned(ours, n), "optax_multi_transform": scanned(theirs, n),
            "optax_adamw_one_group": scanned(plain, n)}
    t = interleaved({k: (lambda f=f: ready(f(params))) for k, f in runs.items()}, rounds)
    return [{"groups": len(names), "leaves": len(jax.tree.leaves(params)), "steps": n,
             **{f"{k}_s": v for k, v in t.items()},
             "ratio_vs_multi_transform": t["jaxsched_grouped"] / t["optax_multi_transform"],
             "ratio_vs_one_group": t["jaxsched_grouped"] / t["optax_adamw_one_group"]}]


def bench_flax(n: int, rounds: int) -> list[dict]:
    from flax import nnx

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
    from common import MLP, digits, loss_fn

    x, y, _, _ = digits()
    xb, yb = x[:128], y[:128]

    def make(lr):
        model = MLP(nnx.Rngs(0))
        optimizer = nnx.Optimizer(model, optax.adamw(lr), wrt=nnx.Param)

        @nnx.jit
        def step(model, optimizer):
            loss, grads = nnx.value_and_grad(loss_fn)(model, xb, yb)
            optimizer.update(model, grads)
            return loss

        def run():
            for _ in range(n):
                loss = step(model, optimizer)
            ready(loss)
        return run

    sched = jaxsched.warmup_cosine_lr(10**6, warmup_num_steps=1000, lr=1e-3)
    t = interleaved({"with jaxsched": make(sched), "constant lr": make(1e-3)}, rounds)
    return [{"model": "digits MLP (64-128-10), batch 128", "steps": n,
             "with_schedule_ms_per_step": t["with jaxsched"] / n * 1e3,
             "constant_ms_per_step": t["constant lr"] / n * 1e3,
             "ratio": t["with jaxsched"] / t["constant lr"]}]


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) if k in r else "" for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    parser.add_argument("--out", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    q = args.quick
    sizes = dict(curve=10**5 if q else 10**6, torch=2 * 10**4 if q else 10**5,
                 scan=10**4 if q else 4 * 10**5, short=5000 if q else 2 * 10**4,
                 adapter=2000 if q else 20000,
                 traces=10**3 if q else 10**4, flax=20 if q else 100, groups=200 if q else 2000,
                 rounds=5 if q else 31)
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "jax": jax.__version__, "optax": optax.__version__,
                    "backend": jax.default_backend(),
                    "device": str(jax.devices()[0].device_kind), "quick": q},
        "curve": bench_curves(sizes["curve"], sizes["torch"], sizes["rounds"]),
        "in_step": bench_in_step([((), sizes["scan"]), ((8,), sizes["short"]),
                                  ((1024,), sizes["short"])], sizes["rounds"]),
        "adapter_step": bench_adapter_step(sizes["adapter"], sizes["rounds"]),
        "traces": bench_traces(sizes["traces"]),
        "flax_step": bench_flax(sizes["flax"], sizes["rounds"]),
        "groups": bench_groups(sizes["groups"], sizes["rounds"]),
    }
    checks = {
        "curve <= 1.10x optax": all(r["ratio_vs_optax"] <= 1.10 for r in results["curve"]),
        "curve >= 200x faster than torch": all(r.get("speedup_vs_torch", 1e9) >= 200
                                               for r in results["curve"]),
        "in-step cost <= 1.10x optax": all(r["ratio_vs_optax"] <= 1.10
                                           for r in results["in_step"]),
        "adapter.step() <= 0.5x torch": all(r["ratio_vs_torch"] <= 0.5
                                            for r in results["adapter_step"]),
        "exactly one trace": all(r["traces"] == 1 for r in results["traces"]),
        "grouped step <= 1.10x multi_transform": all(
            r["ratio_vs_multi_transform"] <= 1.10 for r in results["groups"]),
    }
    results["targets"] = checks
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    md = [f"# Benchmarks{' (quick)' if q else ''}", "",
          f"`python bench/run.py{' --quick' if q else ''}` on {m['platform']}, Python "
          f"{m['python']}, jax {m['jax']}, optax {m['optax']}, backend {m['backend']} "
          f"({m['device']}). Medians of {sizes['rounds']} interleaved rounds; ratios are of "
          f"medians measured side by side in one process.", "",
          "## Targets", "", *[f"- {'met' if ok else 'MISSED'}: {name}"
                              for name, ok in checks.items()], "",
          f"## A {sizes['curve']}-step curve, `jax.jit(jax.vmap(s))` (torch: its scheduler "
          f"stepped in a Python loop, {sizes['torch']} steps timed, scaled)", "",
          table(results["curve"]), "",
          "## In a jitted update: `lax.scan` of SGD steps on a scalar, 8 and 1024 params", "",
          table(results["in_step"]), "",
          "## `adapter.step()` vs torch's `scheduler.step()`", "",
          table(results["adapter_step"]), "",
          "## Traces of a jitted step while the lr changes every step", "",
          table(results["traces"]), "",
          "## A Flax train step with and without a schedule", "",
          table(results["flax_step"]), "",
          "## Param groups: `jaxsched.grouped` vs `optax.multi_transform` (a `lax.scan` of "
          "AdamW steps, 12 layers, layer-wise lr decay, no decay on biases and norms)", "",
          table(results["groups"]), ""]
    (args.out / "RESULTS.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
