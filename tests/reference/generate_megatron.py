"""Records reference curves and state dicts from megatron-core 0.16.1's
``OptimizerParamScheduler``.

    python tests/reference/generate_megatron.py

Entry ``k`` is the lr after ``num_steps`` reaches ``k`` (the constructor's ``step(0)`` gives
entry 0); the scheduler is stepped with ``step(increment=k - previous)``, which is how
Megatron jumps by a global batch of samples. ``state_dict`` is the scheduler's at
``state_step``. Weight decay is checked live (tests/test_megatron.py).
Output: ``jaxsched/reference_data/megatron.json``.
"""

from __future__ import annotations

import json
import logging
import pathlib
import sys
import types
import warnings
from importlib import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

VERSION = "0.16.1"
OUT = (pathlib.Path(__file__).resolve().parents[2] / "jaxsched" / "reference_data"
       / "megatron.json")
FAR = [10**4, 10**6, 2**24 + 1, 2**31 - 2, 2**31 - 1]
WD = dict(start_wd=0.01, end_wd=0.1, wd_incr_steps=1000, wd_incr_style="cosine")


def cases() -> list[dict]:
    r = range
    out = []

    def add(name, kwargs, steps, groups=({"lr": 0.0},), state_step=57):
        out.append(dict(name=name, kwargs=dict(WD, **kwargs), groups=[dict(g) for g in groups],
                        steps=list(steps), state_step=state_step))

    base = dict(init_lr=0.0, max_lr=1e-3, min_lr=1e-5, lr_warmup_steps=20, lr_decay_steps=200)
    for style in ("constant", "linear", "cosine", "inverse-square-root"):
        add(style, dict(base, lr_decay_style=style), [*r(0, 230), *FAR])
    for wsd in ("linear", "cosine", "exponential", "minus_sqrt"):
        add(f"wsd_{wsd}", dict(base, lr_decay_style="WSD", wsd_decay_steps=60,
                               lr_wsd_decay_style=wsd), [*r(0, 230), *FAR])
    add("cosine_groups", dict(base, lr_decay_style="cosine", init_lr=1e-6),
        [*r(0, 230), *FAR], groups=({"lr": 0.0}, {"lr": 0.0, "max_lr": 5e-4, "min_lr": 0.0}))
    # counted in samples: num_steps advances by a global batch of 64 per iteration
    add("samples_linear_batch_64", dict(init_lr=0.0, max_lr=3e-4, min_lr=3e-5,
                                        lr_warmup_steps=640, lr_decay_steps=9_600,
                                        lr_decay_style="linear"),
        [*r(0, 9_985, 64), 9_599, 9_600, 9_601, *FAR], state_step=6_400)
    return out


def main() -> None:
    if metadata.version("megatron-core") != VERSION:
        sys.exit(f"needs megatron-core {VERSION}, found {metadata.version('megatron-core')}")
    logging.disable(logging.INFO)
    out = []
    for case in cases():
        steps = sorted(set(case["steps"]))
        opt = types.SimpleNamespace(param_groups=[dict(g) for g in case["groups"]])
        sched = OptimizerParamScheduler(opt, **case["kwargs"])
        series = []
        for k in steps:
            sched.step(increment=k - sched.num_steps)
            series.append([float(g["lr"]) for g in opt.param_groups])
        opt = types.SimpleNamespace(param_groups=[dict(g) for g in case["groups"]])
        sched = OptimizerParamScheduler(opt, **case["kwargs"])
        sched.step(increment=case["state_step"])
        n = len(case["groups"])
        out.append({"name": case["name"], "class": "OptimizerParamScheduler", "megatron": True,
                    "kwargs": case["kwargs"], "groups": case["groups"], "steps": steps,
                    "lr": [[row[g] for row in series] for g in range(n)],
                    "state_step": case["state_step"], "state_dict": sched.state_dict()})
    meta = {"library": "megatron-core", "megatron-core": VERSION,
            "note": "entry k: the lr with num_steps == k"}
    OUT.write_text(json.dumps({"meta": meta, "cases": out}, indent=None) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
