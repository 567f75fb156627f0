"""Records reference curves from the real torch 2.13.0 schedulers.

    python tests/reference/generate_torch.py

Entry 0 is what the optimizer holds right after construction, entry k after k calls of
``step()`` (``step(metric)`` for ReduceLROnPlateau, with the case's metrics). torch's
schedulers are recursive, so every step is walked. The torch ``state_dict()`` at the last
recorded step is kept too. Output: ``jaxsched/reference_data/torch.json``.
"""

from __future__ import annotations

import json
import pathlib
import sys
import warnings

import torch
from torch.optim import lr_scheduler

from jaxsched.tools.parity import plain_state, resolve_lambdas

from optimizers import make_optimizer, torch_groups

TORCH_VERSION = "2.13.0"
OUT = pathlib.Path(__file__).resolve().parents[2] / "jaxsched" / "reference_data" / "torch.json"


def build(opt: torch.optim.Optimizer, cls: str, kwargs: dict, children: list | None):
    kwargs = resolve_lambdas(kwargs)
    if cls == "SequentialLR":
        subs = [build(opt, c["class"], c["kwargs"], None) for c in children]
        return lr_scheduler.SequentialLR(opt, subs, **kwargs)
    if cls == "ChainedScheduler":
        subs = [build(opt, c["class"], c["kwargs"], None) for c in children]
        return lr_scheduler.ChainedScheduler(subs, **kwargs)
    return getattr(lr_scheduler, cls)(opt, **kwargs)


def read(opt: torch.optim.Optimizer) -> tuple[list[float], list[float], list[float] | None]:
    lr = [float(g["lr"]) for g in opt.param_groups]
    if "betas" in opt.defaults:
        return (lr, [float(g["betas"][0]) for g in opt.param_groups],
                [float(g["betas"][1]) for g in opt.param_groups])
    return lr, [float(g["momentum"]) for g in opt.param_groups], None


def record(case: dict) -> dict:
    steps = sorted(set(case["steps"]))
    opt = make_optimizer(case["optimizer"], case["groups"])
    sched = build(opt, case["cls"], case["kwargs"], case.get("children"))
    series = {0: read(opt)}
    metrics = case.get("metrics")
    for k in range(1, steps[-1] + 1):
        if metrics is not None:
            sched.step(metrics[k - 1])
        else:
            sched.step()
        series[k] = read(opt)
    n = len(case["groups"])
    out = {"steps": steps, "lr": [[series[k][0][g] for k in steps] for g in range(n)],
           "momentum": [[series[k][1][g] for k in steps] for g in range(n)],
           "state_dict": plain_state(sched.state_dict()), "state_step": steps[-1]}
    if series[0][2] is not None:
        out["beta2"] = [[series[k][2][g] for k in steps] for g in range(n)]
    return out


LONG = [10**4, 3 * 10**4]


def cases() -> list[dict]:
    out = []

    def add(name, cls, kwargs, steps, optimizer="SGD", lrs=(0.1,), moms=(0.9,), **extra):
        moms = tuple(moms) * (len(lrs) // len(moms))
        out.append(dict(name=name, cls=cls, kwargs=kwargs, optimizer=optimizer,
                        groups=torch_groups(optimizer, list(lrs), list(moms)),
                        steps=list(steps), **extra))

    r = range
    lam = {"lambda": "pow095"}
    add("lambda_pow", "LambdaLR", dict(lr_lambda=lam), r(30))
    add("lambda_two_groups", "LambdaLR", dict(lr_lambda=[lam, {"lambda": "inv"}]),
        [*r(20), *LONG], optimizer="Adam", lrs=(0.1, 0.02))
    add("multiplicative", "MultiplicativeLR", dict(lr_lambda={"lambda": "wobble"}),
        [*r(40), 2000])
    add("multiplicative_two", "MultiplicativeLR",
        dict(lr_lambda=[{"lambda": "wobble"}, {"lambda": "const09"}]), r(20),
        optimizer="Adam", lrs=(0.1, 0.5))
    add("step", "StepLR", dict(step_size=3, gamma=0.5), r(20))
    add("step_defaults_far", "StepLR", dict(step_size=100, gamma=0.9), [*r(5), 99, 100, 101,
                                                                        *LONG])
    add("step_two_groups", "StepLR", dict(step_size=1, gamma=0.7), r(12), optimizer="Adam",
        lrs=(0.1, 0.3))
    add("multistep", "MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.5), r(15))
    add("multistep_zero_unsorted", "MultiStepLR", dict(milestones=[7, 0, 3]), r(10),
        optimizer="Adam")
    add("multistep_empty", "MultiStepLR", dict(milestones=[]), r(4))
    add("constant_defaults", "ConstantLR", {}, r(10))
    add("constant", "ConstantLR", dict(factor=0.5, total_iters=3), [*r(8), *LONG],
        optimizer="Adam", lrs=(0.1, 0.03))
    add("constant_factor_one", "ConstantLR", dict(factor=1.0, total_iters=2), r(5))
    add("linear_defaults", "LinearLR", {}, r(10))
    add("linear_up", "LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=10),
        [*r(15), *LONG], optimizer="Adam")
    add("linear_down_to_zero", "LinearLR", dict(start_factor=1.0, end_factor=0.0,
                                                total_iters=7), r(12))
    add("exponential", "ExponentialLR", dict(gamma=0.9), r(30), lrs=(0.1, 0.05))
    add("exponential_far", "ExponentialLR", dict(gamma=0.9995), [*r(5), *LONG])
    add("exponential_one", "ExponentialLR", dict(gamma=1.0), r(4))
    add("polynomial_defaults", "PolynomialLR", {}, r(10))
    add("polynomial_square", "PolynomialLR", dict(total_iters=10, power=2.0), r(14),
        optimizer="Adam")
    add("polynomial_sqrt", "PolynomialLR", dict(total_iters=6, power=0.5), r(10))
    add("polynomial_power_zero", "PolynomialLR", dict(total_iters=4, power=0.0), r(7))
    add("cosine", "CosineAnnealingLR", dict(T_max=10), r(45))
    add("cosine_eta", "CosineAnnealingLR", dict(T_max=7, eta_min=0.01), r(32),
        optimizer="Adam", lrs=(0.1, 0.2))
    add("cosine_tmax_one", "CosineAnnealingLR", dict(T_max=1), r(8))
    add("cosine_far", "CosineAnnealingLR", dict(T_max=1000, eta_min=1e-4),
        [*r(5), 999, 1000, 1001, 1999, 2000, 2001, *LONG])
    add("warm_restarts", "CosineAnnealingWarmRestarts", dict(T_0=5), r(23))
    add("warm_restarts_mult", "CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2,
                                                                   eta_min=0.001), r(50),
        optimizer="Adam")
    add("warm_restarts_mult3", "CosineAnnealingWarmRestarts", dict(T_0=1, T_mult=3),
        [*r(45), *LONG], lrs=(0.1, 0.4))
    add("cyclic_triangular", "CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4), r(30))
    add("cyclic_triangular2", "CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                step_size_down=5, mode="triangular2"), r(40),
        optimizer="Adam")
    add("cyclic_exp_range", "CyclicLR", dict(base_lr=0.001, max_lr=0.1, step_size_up=5,
                                              mode="exp_range", gamma=0.99), r(40))
    add("cyclic_custom_cycle", "CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                 scale_fn={"lambda": "half_pow"}), r(20))
    add("cyclic_custom_iterations", "CyclicLR", dict(
        base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn={"lambda": "inv"},
        scale_mode="iterations"), r(20), optimizer="Adam")
    add("cyclic_no_momentum", "CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                cycle_momentum=False), r(12))
    add("cyclic_down_zero", "CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4,
                                              step_size_down=0), r(14))
    add("cyclic_two_groups", "CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3],
                                               step_size_up=3, base_momentum=[0.8, 0.7],
                                               max_momentum=[0.9, 0.95]), r(16),
        optimizer="Adam", lrs=(0.1, 0.2))
    add("cyclic_far", "CyclicLR", dict(base_lr=0.001, max_lr=0.1, step_size_up=2000,
                                        step_size_down=1000), [*r(3), 1999, 2000, 2001, *LONG])
    add("onecycle_defaults", "OneCycleLR", dict(max_lr=0.1, total_steps=100), r(101))
    add("onecycle_linear_adam", "OneCycleLR", dict(max_lr=0.1, total_steps=20,
                                                    anneal_strategy="linear"), r(21),
        optimizer="Adam")
    add("onecycle_three_phase", "OneCycleLR", dict(max_lr=0.05, total_steps=30,
                                                    three_phase=True, pct_start=0.25), r(31))
    add("onecycle_epochs", "OneCycleLR", dict(max_lr=[0.1, 0.2], epochs=3, steps_per_epoch=7,
                                               div_factor=10.0, final_div_factor=100.0),
        r(22), lrs=(0.1, 0.2))
    add("onecycle_no_momentum", "OneCycleLR", dict(max_lr=0.1, total_steps=15,
                                                    cycle_momentum=False), r(16))
    add("onecycle_short_warmup", "OneCycleLR", dict(max_lr=0.1, total_steps=10,
                                                     pct_start=0.05), r(11))
    add("onecycle_odd_pct", "OneCycleLR", dict(max_lr=1.0, total_steps=37, pct_start=0.31,
                                                base_momentum=0.8, max_momentum=0.97),
        r(38), optimizer="Adam")
    child = lambda cls, **kw: {"class": cls, "kwargs": kw}  # noqa: E731
    add("sequential", "SequentialLR", dict(milestones=[3]), r(15),
        children=[child("ConstantLR", factor=0.5, total_iters=2),
                  child("ExponentialLR", gamma=0.9)])
    add("sequential_warmup_cosine", "SequentialLR", dict(milestones=[5]), r(40),
        optimizer="Adam", lrs=(0.1, 0.05),
        children=[child("LinearLR", start_factor=0.1, total_iters=5),
                  child("CosineAnnealingLR", T_max=20, eta_min=0.001)])
    add("sequential_milestone_zero", "SequentialLR", dict(milestones=[0]), r(8),
        children=[child("ConstantLR", factor=0.5, total_iters=2),
                  child("ExponentialLR", gamma=0.9)])
    add("sequential_multiplicative", "SequentialLR", dict(milestones=[3]), r(10),
        children=[child("ConstantLR", factor=0.5, total_iters=2),
                  child("MultiplicativeLR", lr_lambda={"lambda": "const09"})])
    add("sequential_three", "SequentialLR", dict(milestones=[2, 6]), r(14),
        children=[child("LinearLR", start_factor=0.5, total_iters=2),
                  child("StepLR", step_size=2, gamma=0.5),
                  child("PolynomialLR", total_iters=4)])
    add("sequential_cyclic_momentum", "SequentialLR", dict(milestones=[6]), r(16),
        optimizer="Adam",
        children=[child("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=3),
                  child("CyclicLR", base_lr=0.001, max_lr=0.05, step_size_up=2,
                        base_momentum=0.7, max_momentum=0.95)])
    add("chained", "ChainedScheduler", {}, r(12),
        children=[child("ConstantLR", factor=0.5, total_iters=3),
                  child("ExponentialLR", gamma=0.9)])
    add("chained_three", "ChainedScheduler", {}, r(15), optimizer="Adam", lrs=(0.1, 0.2),
        children=[child("LinearLR", start_factor=0.2, total_iters=4),
                  child("MultiStepLR", milestones=[3, 8], gamma=0.5),
                  child("ExponentialLR", gamma=0.95)])
    add("chained_multiplicative", "ChainedScheduler", {}, r(10),
        children=[child("StepLR", step_size=2, gamma=0.5),
                  child("MultiplicativeLR", lr_lambda={"lambda": "wobble"}),
                  child("PolynomialLR", total_iters=6, power=2.0)])
    flat = [1.0, 0.9, 0.9, 0.9, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7,
            0.7, 0.7, 0.7, 0.7]
    add("plateau_defaults", "ReduceLROnPlateau", dict(patience=2), r(len(flat) + 1),
        metrics=flat)
    add("plateau_max_abs", "ReduceLROnPlateau", dict(mode="max", threshold_mode="abs",
                                                      threshold=0.05, factor=0.5, patience=1),
        r(16), metrics=[0.1, 0.2, 0.22, 0.24, 0.3, 0.3, 0.31, 0.4, 0.4, 0.4, 0.39, 0.5, 0.5,
                        0.5, 0.5], optimizer="Adam")
    add("plateau_cooldown_nan", "ReduceLROnPlateau", dict(patience=0, cooldown=2, factor=0.5),
        r(16), metrics=[1.0, float("nan"), 1.0, 1.0, 0.5, float("nan"), 0.5, 0.5, 0.5, 0.4,
                        0.4, 0.4, 0.4, 0.4, 0.4])
    add("plateau_min_lr_eps", "ReduceLROnPlateau", dict(patience=0, factor=0.1,
                                                         min_lr=[1e-3, 1e-4], eps=1e-5),
        r(12), metrics=[1.0] * 11, lrs=(0.1, 0.01))
    add("plateau_abs_min", "ReduceLROnPlateau", dict(threshold_mode="abs", threshold=0.1,
                                                      patience=1),
        r(13), metrics=[5.0, 4.97, 4.95, 4.85, 4.83, 4.81, 4.6, 4.58, 4.57, 4.55, 4.3, 4.28])
    # Metrics exactly at best - threshold: float32 rounds the test either way, so the
    # in-graph transform is held to this one in float64 only (the adapter is float64).
    add("plateau_threshold_ties", "ReduceLROnPlateau", dict(threshold_mode="abs",
                                                            threshold=0.1, patience=1),
        r(13), metrics=[5.0, 4.95, 4.8, 4.75, 4.7, 4.6, 4.55, 4.5, 4.45, 4.4, 4.35, 4.3],
        float64_only="metrics tie with best - threshold, which float32 cannot decide as "
                     "torch's float64 does")
    return out


def main() -> None:
    if torch.__version__.split("+")[0] != TORCH_VERSION:
        sys.exit(f"needs torch {TORCH_VERSION}, found {torch.__version__}")
    warnings.simplefilter("ignore")  # torch's step-order warnings: no real optimizer steps
    out = []
    for case in cases():
        curves = record(case)
        groups = [dict(g, betas=list(g["betas"])) if "betas" in g else g
                  for g in case["groups"]]
        entry = {"name": case["name"], "class": case["cls"], "kwargs": case["kwargs"],
                 "optimizer": case["optimizer"], "groups": groups, **curves}
        for key in ("children", "metrics", "float64_only"):
            if key in case:
                entry[key] = case[key]
        out.append(entry)
    meta = {"library": "torch", "torch": torch.__version__,
            "generator": "tests/reference/generate_torch.py"}
    OUT.write_text(json.dumps({"meta": meta, "cases": out}, separators=(",", ":")) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
