"""Records reference curves from the real DeepSpeed schedulers (run it with the pinned versions).

    python tests/reference/generate_deepspeed.py

For every case it builds torch param groups (SGD with momentum, or Adam), constructs the
DeepSpeed scheduler, and records what the optimizer holds at training step k: entry 0 right
after construction, entry k after k calls of ``step()``. Dense steps are walked one ``step()``
at a time; far steps (up to 2**31-1) jump with ``step(k - 1)``, which the generator first checks
against sequential stepping. The curves go to ``jaxsched/reference_data/deepspeed.json``.
"""

from __future__ import annotations

import json
import logging
import pathlib
import sys

import deepspeed
import deepspeed.runtime.lr_schedules as lrs
import torch

from optimizers import make_optimizer, torch_groups

TORCH_VERSION = "2.13.0"
DEEPSPEED_VERSION = "0.19.8"
OUT = pathlib.Path(__file__).resolve().parents[2] / "jaxsched" / "reference_data" / "deepspeed.json"
FAR = [10**4, 10**5, 2**24 + 1, 2**31 - 2, 2**31 - 1]


def read(opt: torch.optim.Optimizer) -> tuple[list[float], list[float], list[float] | None]:
    lr = [float(g["lr"]) for g in opt.param_groups]
    if "betas" in opt.defaults:
        mom = [float(g["betas"][0]) for g in opt.param_groups]
        beta2 = [float(g["betas"][1]) for g in opt.param_groups]
        return lr, mom, beta2
    return lr, [float(g["momentum"]) for g in opt.param_groups], None


def record(cls_name: str, kwargs: dict, optimizer: str, groups: list[dict],
           steps: list[int]) -> dict:
    """Runs DeepSpeed's ``cls_name`` and returns the values in force at each of ``steps``."""
    steps = sorted(set(steps))
    opt = make_optimizer(optimizer, groups)
    sched = getattr(lrs, cls_name)(opt, **kwargs)
    dense_end = max((k for k in steps if k <= 20000), default=0)
    series: dict[int, tuple] = {0: read(opt)}
    for k in range(1, dense_end + 1):
        sched.step()
        series[k] = read(opt)
    # Jumps: DeepSpeed's schedules are functions of last_batch_iteration alone; check it.
    probe = make_optimizer(optimizer, groups)
    jumper = getattr(lrs, cls_name)(probe, **kwargs)
    for k in steps:
        if k > 0:
            jumper.step(k - 1)
            got = read(probe)
            if k in series and got != series[k]:
                raise AssertionError(f"{cls_name}: jump to {k} differs from stepping")
            series[k] = got
    lr = [[series[k][0][g] for k in steps] for g in range(len(groups))]
    mom = [[series[k][1][g] for k in steps] for g in range(len(groups))]
    out = {"steps": steps, "lr": lr, "momentum": mom}
    if series[0][2] is not None:
        out["beta2"] = [[series[k][2][g] for k in steps] for g in range(len(groups))]
    return out


def around(*points: int, width: int = 2) -> list[int]:
    """Each point and its neighbours (boundary - width .. boundary + width), clipped at 0."""
    return sorted({max(0, p + d) for p in points for d in range(-width, width + 1)})


def cases() -> list[dict]:
    out = []

    def add(name: str, cls: str, kwargs: dict, steps: list[int], optimizer: str = "Adam",
            lrs_: tuple = (0.1,), moms: tuple = (0.9,)) -> None:
        moms = tuple(moms) * (len(lrs_) // len(moms))
        out.append(dict(name=name, cls=cls, kwargs=kwargs, optimizer=optimizer,
                        groups=torch_groups(optimizer, list(lrs_), list(moms)),
                        steps=sorted(set(steps) | set(FAR))))

    # LRRangeTest
    add("lrrt_defaults", "LRRangeTest", {}, [*around(0, 1999, 2000, 4000), 6000])
    add("lrrt_continuous", "LRRangeTest", dict(lr_range_test_min_lr=0.01,
        lr_range_test_step_size=7, lr_range_test_step_rate=0.3), list(range(40)))
    add("lrrt_staircase", "LRRangeTest", dict(lr_range_test_min_lr=0.002,
        lr_range_test_step_size=5, lr_range_test_step_rate=2.5, lr_range_test_staircase=True),
        list(range(40)), optimizer="SGD")
    add("lrrt_step_size_1", "LRRangeTest", dict(lr_range_test_step_size=1,
        lr_range_test_staircase=True), list(range(10)))
    add("lrrt_rate_0", "LRRangeTest", dict(lr_range_test_step_rate=0.0), list(range(5)))
    add("lrrt_two_groups", "LRRangeTest", dict(lr_range_test_min_lr=[0.01, 0.003],
        lr_range_test_step_size=4, lr_range_test_staircase=True), list(range(30)),
        optimizer="SGD", lrs_=(0.1, 0.2))
    # OneCycle
    base = dict(cycle_min_lr=1e-4, cycle_max_lr=1e-3, cycle_first_step_size=10)
    add("onecycle_symmetric", "OneCycle", base, list(range(30)))
    add("onecycle_defaults", "OneCycle", dict(cycle_min_lr=0.01, cycle_max_lr=0.1),
        [*around(0, 2000, 4000), 5000])
    add("onecycle_asymmetric_decay", "OneCycle", dict(base, cycle_second_step_size=13,
        cycle_first_step_size=7, decay_lr_rate=0.1, decay_step_size=5, decay_mom_rate=0.01),
        list(range(60)))
    add("onecycle_second_zero", "OneCycle", dict(base, cycle_second_step_size=0,
        decay_lr_rate=0.5, decay_step_size=3), list(range(30)))
    add("onecycle_stairs_same", "OneCycle", dict(base, cycle_first_stair_count=3),
        list(range(30)))
    add("onecycle_stairs_differ", "OneCycle", dict(base, cycle_first_step_size=8,
        cycle_second_step_size=12, cycle_first_stair_count=2, cycle_second_stair_count=5,
        decay_step_size=2, decay_lr_rate=0.2), list(range(40)))
    add("onecycle_stairs_second_only", "OneCycle", dict(base, cycle_first_step_size=6,
        cycle_second_step_size=9, cycle_first_stair_count=0, cycle_second_stair_count=4),
        list(range(25)))
    add("onecycle_no_momentum", "OneCycle", dict(base, cycle_momentum=False,
        decay_lr_rate=0.3, decay_step_size=4), list(range(40)))
    add("onecycle_sgd", "OneCycle", dict(base, decay_lr_rate=0.3, decay_step_size=4),
        list(range(40)), optimizer="SGD")
    add("onecycle_mom_decay_only", "OneCycle", dict(base, decay_step_size=10,
        decay_mom_rate=0.001, cycle_min_mom=0.85, cycle_max_mom=0.95), list(range(40)))
    add("onecycle_rate_zero_size_set", "OneCycle", dict(base, decay_step_size=10),
        list(range(30)))
    add("onecycle_two_groups", "OneCycle", dict(cycle_min_lr=[1e-4, 2e-4],
        cycle_max_lr=[1e-3, 5e-3], cycle_min_mom=[0.8, 0.7], cycle_max_mom=[0.9, 0.95],
        cycle_first_step_size=5, cycle_second_step_size=7, decay_lr_rate=0.05,
        decay_step_size=2, decay_mom_rate=0.002), list(range(30)), lrs_=(0.1, 0.2))
    add("onecycle_step_1", "OneCycle", dict(base, cycle_first_step_size=1,
        decay_lr_rate=1.0, decay_step_size=1), list(range(10)))
    # WarmupLR
    add("warmup_defaults", "WarmupLR", {}, [*around(0, 999, 1000, 1001), 1500])
    add("warmup_log", "WarmupLR", dict(warmup_min_lr=1e-4, warmup_max_lr=1e-2,
        warmup_num_steps=10), list(range(20)))
    add("warmup_linear", "WarmupLR", dict(warmup_min_lr=1e-4, warmup_max_lr=1e-2,
        warmup_num_steps=10, warmup_type="linear"), list(range(20)), optimizer="SGD")
    add("warmup_n1_log", "WarmupLR", dict(warmup_max_lr=0.5, warmup_num_steps=1),
        list(range(6)))
    add("warmup_n1_linear", "WarmupLR", dict(warmup_max_lr=0.5, warmup_num_steps=1,
        warmup_type="linear"), list(range(6)))
    add("warmup_inherit_two_groups", "WarmupLR", dict(warmup_min_lr=[0.0, 1e-3],
        warmup_num_steps=6), list(range(12)), lrs_=(0.1, 0.03))
    add("warmup_min_equals_max", "WarmupLR", dict(warmup_min_lr=0.01, warmup_max_lr=0.01,
        warmup_num_steps=3), list(range(6)))
    # WarmupDecayLR
    add("decay_log", "WarmupDecayLR", dict(total_num_steps=50, warmup_min_lr=1e-4,
        warmup_max_lr=1e-2, warmup_num_steps=10), list(range(60)))
    add("decay_linear", "WarmupDecayLR", dict(total_num_steps=30, warmup_max_lr=0.2,
        warmup_num_steps=8, warmup_type="linear"), list(range(40)), optimizer="SGD")
    add("decay_total_equals_warmup", "WarmupDecayLR", dict(total_num_steps=5,
        warmup_max_lr=0.2, warmup_num_steps=5, warmup_type="linear"), list(range(10)))
    add("decay_n1", "WarmupDecayLR", dict(total_num_steps=4, warmup_max_lr=0.2,
        warmup_num_steps=1), list(range(8)))
    add("decay_defaults", "WarmupDecayLR", dict(total_num_steps=5000),
        around(0, 1000, 2500, 5000, 5001))
    add("decay_two_groups_inherit", "WarmupDecayLR", dict(total_num_steps=20,
        warmup_min_lr=[1e-3, 0.0], warmup_max_lr=None, warmup_num_steps=4),
        list(range(25)), lrs_=(0.05, 0.5))
    # WarmupCosineLR
    add("cosine_log", "WarmupCosineLR", dict(total_num_steps=50, warmup_num_steps=10),
        list(range(60)))
    add("cosine_linear_ratios", "WarmupCosineLR", dict(total_num_steps=40,
        warmup_min_ratio=0.1, warmup_num_steps=8, cos_min_ratio=0.05,
        warmup_type="linear"), list(range(50)), optimizer="SGD")
    add("cosine_total_equals_warmup", "WarmupCosineLR", dict(total_num_steps=6,
        warmup_num_steps=6, warmup_type="linear"), list(range(12)))
    add("cosine_n1", "WarmupCosineLR", dict(total_num_steps=5, warmup_num_steps=1,
        cos_min_ratio=0.0), list(range(10)))
    add("cosine_defaults", "WarmupCosineLR", dict(total_num_steps=10000),
        around(0, 1000, 5000, 10000, 10001))
    add("cosine_two_groups", "WarmupCosineLR", dict(total_num_steps=30, warmup_num_steps=5,
        warmup_min_ratio=0.2, cos_min_ratio=0.1), list(range(35)), lrs_=(0.1, 0.7))
    add("cosine_min_ratio_one", "WarmupCosineLR", dict(total_num_steps=10,
        warmup_num_steps=3, cos_min_ratio=1.0), list(range(14)))
    return out


def main() -> None:
    if torch.__version__.split("+")[0] != TORCH_VERSION or \
            deepspeed.__version__ != DEEPSPEED_VERSION:
        sys.exit(f"needs torch {TORCH_VERSION} and deepspeed {DEEPSPEED_VERSION}, found "
                 f"{torch.__version__} and {deepspeed.__version__}")
    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)
    out = []
    for case in cases():
        curves = record(case["cls"], case["kwargs"], case["optimizer"], case["groups"],
                        case["steps"])
        groups = [dict(g, betas=list(g["betas"])) if "betas" in g else g
                  for g in case["groups"]]
        out.append({"name": case["name"], "class": case["cls"], "kwargs": case["kwargs"],
                    "optimizer": case["optimizer"], "groups": groups, **curves})
    meta = {"library": "deepspeed", "deepspeed": deepspeed.__version__,
            "torch": torch.__version__, "generator": "tests/reference/generate_deepspeed.py"}
    OUT.write_text(json.dumps({"meta": meta, "cases": out}, separators=(",", ":")) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
