"""Records reference curves from the real ``transformers`` 5.23.0 schedulers.

    python tests/reference/generate_huggingface.py

Every case is ``transformers.get_scheduler(name, optimizer, ...)`` on a torch optimizer. Entry
``k`` is the lr after ``k`` calls of ``step()``. The schedulers are ``LambdaLR``s, whose lr is
a closed form of ``last_epoch``, so far steps are reached by setting ``last_epoch = k - 1`` and
stepping once; the generator checks that this agrees with walking on the first steps.
Output: ``jaxsched/reference_data/huggingface.json``.
"""

from __future__ import annotations

import json
import pathlib
import sys
import warnings

import torch
import transformers

from optimizers import make_optimizer, torch_groups

VERSION = "5.23.0"
OUT = (pathlib.Path(__file__).resolve().parents[2] / "jaxsched" / "reference_data"
       / "huggingface.json")
FAR = [10**4, 3 * 10**4, 10**6, 123_456_789, 2**31 - 2, 2**31 - 1]


def make(case: dict) -> tuple[torch.optim.Optimizer, object]:
    opt = make_optimizer(case["optimizer"], case["groups"])
    return opt, transformers.get_scheduler(case["hf"], opt, **case["kwargs"])


def record(case: dict) -> dict:
    steps = sorted(set(case["steps"]))
    opt, sched = make(case)
    walked = {0: [float(g["lr"]) for g in opt.param_groups]}
    near = [k for k in steps if k <= 20_000]
    for k in range(1, max(near) + 1):
        sched.step()
        walked[k] = [float(g["lr"]) for g in opt.param_groups]
    series = {}
    for k in steps:
        opt, sched = make(case)
        if k > 0:
            sched.last_epoch = k - 1
            sched.step()
        series[k] = [float(g["lr"]) for g in opt.param_groups]
        if k in walked and series[k] != walked[k]:
            sys.exit(f"{case['name']}: jumping to step {k} gives {series[k]}, walking "
                     f"gives {walked[k]}")
    n = len(case["groups"])
    return {"steps": steps, "lr": [[series[k][g] for k in steps] for g in range(n)]}


def cases() -> list[dict]:
    out = []

    def add(name, hf, kwargs, steps, optimizer="SGD", lrs=(0.1,)):
        out.append(dict(name=name, hf=hf, kwargs=kwargs, optimizer=optimizer,
                        groups=torch_groups(optimizer, list(lrs), [0.9] * len(lrs)),
                        steps=list(steps)))

    r = range
    add("constant", "constant", {}, [*r(5), *FAR])
    add("constant_with_warmup", "constant_with_warmup", dict(num_warmup_steps=7), [*r(12), *FAR])
    add("constant_with_warmup_zero", "constant_with_warmup", dict(num_warmup_steps=0), r(4))
    add("linear", "linear", dict(num_warmup_steps=10, num_training_steps=100),
        [*r(0, 105), *FAR], optimizer="Adam", lrs=(3e-4, 1e-3))
    add("linear_no_warmup", "linear", dict(num_warmup_steps=0, num_training_steps=7), r(10))
    add("linear_warmup_is_all", "linear", dict(num_warmup_steps=5, num_training_steps=5), r(8))
    add("cosine", "cosine", dict(num_warmup_steps=20, num_training_steps=200),
        [*r(0, 420, 3), 199, 200, 201, *FAR], optimizer="Adam", lrs=(5e-4,))
    add("cosine_cycles_1_3", "cosine", dict(num_warmup_steps=3, num_training_steps=60,
                                            scheduler_specific_kwargs=dict(num_cycles=1.3)),
        [*r(0, 130), *FAR])
    add("cosine_cycles_2", "cosine", dict(num_warmup_steps=0, num_training_steps=97,
                                          scheduler_specific_kwargs=dict(num_cycles=2)),
        [*r(0, 200), *FAR])
    add("cosine_restarts", "cosine_with_restarts",
        dict(num_warmup_steps=4, num_training_steps=64,
             scheduler_specific_kwargs=dict(num_cycles=3)), [*r(0, 70), *FAR])
    add("cosine_restarts_exact", "cosine_with_restarts",
        dict(num_warmup_steps=0, num_training_steps=900,
             scheduler_specific_kwargs=dict(num_cycles=3)),
        [*r(0, 12), *r(295, 305), *r(595, 605), *r(890, 905), *FAR])
    add("cosine_restarts_many", "cosine_with_restarts",
        dict(num_warmup_steps=10, num_training_steps=1010,
             scheduler_specific_kwargs=dict(num_cycles=20)), [*r(0, 1020), *FAR])
    add("polynomial", "polynomial", dict(num_warmup_steps=5, num_training_steps=50),
        [*r(0, 60), *FAR])
    add("polynomial_power2", "polynomial",
        dict(num_warmup_steps=0, num_training_steps=40,
             scheduler_specific_kwargs=dict(power=2.0, lr_end=1e-3)),
        [*r(0, 45), *FAR], optimizer="Adam", lrs=(0.01, 0.05))
    add("inverse_sqrt", "inverse_sqrt", dict(num_warmup_steps=100), [*r(0, 300), *FAR])
    add("inverse_sqrt_timescale", "inverse_sqrt",
        dict(num_warmup_steps=10, scheduler_specific_kwargs=dict(timescale=50)),
        [*r(0, 100), *FAR])
    add("inverse_sqrt_no_warmup", "inverse_sqrt", dict(num_warmup_steps=0), [*r(0, 20), *FAR])
    add("cosine_min_lr_rate", "cosine_with_min_lr",
        dict(num_warmup_steps=10, num_training_steps=110,
             scheduler_specific_kwargs=dict(min_lr_rate=0.1)), [*r(0, 230), *FAR])
    add("cosine_min_lr", "cosine_with_min_lr",
        dict(num_warmup_steps=0, num_training_steps=50,
             scheduler_specific_kwargs=dict(min_lr=1e-3)), [*r(0, 60), *FAR],
        optimizer="Adam", lrs=(0.01,))
    add("cosine_warmup_min_lr", "cosine_warmup_with_min_lr",
        dict(num_warmup_steps=10, num_training_steps=110,
             scheduler_specific_kwargs=dict(min_lr_rate=0.05)), [*r(0, 230), *FAR])
    add("cosine_warmup_min_lr_rate", "cosine_warmup_with_min_lr",
        dict(num_warmup_steps=8, num_training_steps=40,
             scheduler_specific_kwargs=dict(min_lr_rate=0.0, warmup_lr_rate=0.1)),
        [*r(0, 90), *FAR])
    for wt in ("linear", "cosine", "1-sqrt"):
        for dt in ("linear", "cosine", "1-sqrt"):
            add(f"wsd_{wt}_{dt}", "warmup_stable_decay",
                dict(num_warmup_steps=10, num_training_steps=100,
                     scheduler_specific_kwargs=dict(num_decay_steps=30, warmup_type=wt,
                                                    decay_type=dt, min_lr_ratio=0.1)),
                [*r(0, 110), *FAR])
    add("wsd_stable_steps", "warmup_stable_decay",
        dict(num_warmup_steps=3, scheduler_specific_kwargs=dict(
            num_decay_steps=7, num_stable_steps=5, num_cycles=1.0)), [*r(0, 20), *FAR])
    return out


def main() -> None:
    if transformers.__version__ != VERSION:
        sys.exit(f"needs transformers {VERSION}, found {transformers.__version__}")
    warnings.simplefilter("ignore")
    out = []
    for case in cases():
        groups = [dict(g, betas=list(g["betas"])) if "betas" in g else g
                  for g in case["groups"]]
        out.append({"name": case["name"], "class": "LambdaLR", "hf": case["hf"],
                    "kwargs": case["kwargs"], "optimizer": case["optimizer"],
                    "groups": groups, **record(case)})
    meta = {"library": "transformers", "transformers": transformers.__version__,
            "torch": torch.__version__,
            "generator": "tests/reference/generate_huggingface.py"}
    OUT.write_text(json.dumps({"meta": meta, "cases": out}, separators=(",", ":")) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
