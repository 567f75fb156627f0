"""Records reference curves and state dicts from the real timm 1.0.31 schedulers.

    python tests/reference/generate_timm.py

Each case is a ``timm.scheduler`` class on a torch optimizer stepped per update
(``t_in_epochs=False``): entry ``k`` is the lr in force after ``step_update(k)`` (entry 0:
as built). timm's schedulers are stateless in ``t``, so far steps are one call; the generator
checks that walking the first steps gives the same values. ``state_dict`` is the scheduler's
after ``step_update(state_step)``. timm is imported without its torchvision-importing
package ``__init__`` (``jaxsched.tools.catalog.import_timm_schedulers``).
Output: ``jaxsched/reference_data/timm.json``.
"""

from __future__ import annotations

import json
import logging
import pathlib
import sys
import warnings
from importlib import metadata

import torch

from jaxsched.tools import catalog
from jaxsched.tools.parity import plain_state

from optimizers import make_optimizer, torch_groups

VERSION = "1.0.31"
OUT = pathlib.Path(__file__).resolve().parents[2] / "jaxsched" / "reference_data" / "timm.json"
FAR = [10**4, 10**6, 123_456_789, 2**31 - 2, 2**31 - 1]


def make(case: dict) -> tuple[torch.optim.Optimizer, object]:
    opt = make_optimizer(case["optimizer"], case["groups"])
    cls = getattr(catalog.import_timm_schedulers(), case["class"])
    return opt, cls(opt, t_in_epochs=False, **case["kwargs"])


def lrs(opt: torch.optim.Optimizer) -> list[float]:
    return [float(g["lr"]) for g in opt.param_groups]


def record(case: dict) -> dict:
    steps = sorted(set(case["steps"]))
    opt, sched = make(case)
    series = {0: lrs(opt)}
    for k in steps[1:]:
        sched.step_update(k)
        series[k] = lrs(opt)
    opt, sched = make(case)
    for k in range(1, min(max(steps), 3000) + 1):
        sched.step_update(k)
        if k in series and lrs(opt) != series[k]:
            sys.exit(f"{case['name']}: walking to {k} gives {lrs(opt)}, jumping {series[k]}")
    opt, sched = make(case)
    sched.step_update(case["state_step"])
    n = len(case["groups"])
    return {"steps": steps, "lr": [[series[k][g] for k in steps] for g in range(n)],
            "state_step": case["state_step"], "state_dict": plain_state(sched.state_dict())}


def cases() -> list[dict]:
    out = []

    def add(name, cls, kwargs, steps, optimizer="SGD", lrs=(0.1,), state_step=7, scale=None):
        groups = torch_groups(optimizer, list(lrs), [0.9] * len(lrs))
        if scale is not None:
            groups[-1]["lr_scale"] = scale
        out.append(dict(name=name, **{"class": cls}, kwargs=kwargs, optimizer=optimizer,
                        groups=groups, steps=list(steps), state_step=state_step))

    r = range
    add("cosine_warmup", "CosineLRScheduler",
        dict(t_initial=100, lr_min=1e-4, warmup_t=10, warmup_lr_init=1e-5),
        [*r(0, 130), *FAR], optimizer="Adam", lrs=(5e-4, 1e-3), scale=0.5)
    add("cosine_restarts_mul2_decay", "CosineLRScheduler",
        dict(t_initial=20, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=4, warmup_t=5,
             warmup_prefix=True, k_decay=1.5), [*r(0, 330), *FAR], state_step=44)
    add("cosine_mul3_boundary", "CosineLRScheduler",
        dict(t_initial=5, cycle_mul=3.0, cycle_limit=6), [*r(0, 700), *FAR], state_step=605)
    add("cosine_mul_1_5", "CosineLRScheduler",
        dict(t_initial=7, cycle_mul=1.5, cycle_limit=8, lr_min=1e-3), [*r(0, 400), *FAR])
    add("tanh_warmup", "TanhLRScheduler",
        dict(t_initial=80, warmup_t=8, lr_min=1e-4), [*r(0, 100), *FAR], scale=0.25,
        lrs=(0.1, 0.1))
    add("tanh_cycles_prefix", "TanhLRScheduler",
        dict(t_initial=30, lb=-5.0, ub=4.0, cycle_limit=3, cycle_decay=0.7, warmup_t=4,
             warmup_prefix=True), [*r(0, 110), *FAR])
    add("poly_power2_kdecay", "PolyLRScheduler",
        dict(t_initial=60, power=2.0, lr_min=1e-5, k_decay=0.5, warmup_t=6),
        [*r(0, 80), *FAR], optimizer="Adam", lrs=(1e-3,))
    add("poly_cycles", "PolyLRScheduler",
        dict(t_initial=25, power=0.9, cycle_limit=3, cycle_mul=2.0), [*r(0, 200), *FAR])
    add("step_fractional", "StepLRScheduler",
        dict(decay_t=2.4, decay_rate=0.97, warmup_t=3, warmup_lr_init=1e-6),
        [*r(0, 60), *FAR], state_step=20)
    add("step_no_prefix", "StepLRScheduler",
        dict(decay_t=10, decay_rate=0.5, warmup_t=5, warmup_prefix=False), [*r(0, 60), *FAR])
    add("multistep", "MultiStepLRScheduler",
        dict(decay_t=[10, 25, 40], decay_rate=0.3, warmup_t=3), [*r(0, 60), *FAR],
        optimizer="Adam", lrs=(1e-3, 2e-3))
    add("multistep_first_milestone_1", "MultiStepLRScheduler",
        dict(decay_t=[1, 4], decay_rate=0.5), [*r(0, 10), *FAR])
    add("cosine_noise", "CosineLRScheduler",
        dict(t_initial=100, warmup_t=5, lr_min=1e-4, noise_range_t=10, noise_seed=7),
        [*r(0, 120), *FAR], optimizer="Adam", lrs=(1e-3, 2e-3), scale=0.5, state_step=50)
    add("step_noise_window", "StepLRScheduler",
        dict(decay_t=15, decay_rate=0.5, noise_range_t=[20, 60], noise_pct=0.3,
             noise_std=0.5, noise_seed=2**40 + 1), [*r(0, 80), *FAR])
    add("wsd_1_sqrt", "WSDLRScheduler",
        dict(t_initial=100, decay_t=30, warmup_t=10, lr_min=1e-5), [*r(0, 130), *FAR])
    for fn in ("linear", "cosine", "power", "exp"):
        add(f"wsd_rsqrt_{fn}", "WSDLRScheduler",
            dict(t_initial=80, decay_t=20, warmup_t=8, stable_fn="rsqrt", decay_fn=fn,
                 decay_power=2.0), [*r(0, 100), *FAR])
    add("wsd_power_stable", "WSDLRScheduler",
        dict(t_initial=60, decay_t=60, stable_fn="power", stable_power=0.3,
             stable_timescale=10.0, decay_fn="1-sqrt"), [*r(0, 70), *FAR])
    return out


def main() -> None:
    if metadata.version("timm") != VERSION:
        sys.exit(f"needs timm {VERSION}, found {metadata.version('timm')}")
    warnings.simplefilter("ignore")
    logging.getLogger("timm").setLevel(logging.ERROR)
    out = []
    for case in cases():
        groups = [dict(g, betas=list(g["betas"])) if "betas" in g else g
                  for g in case["groups"]]
        rec = record(case)
        out.append({"name": case["name"], "class": case["class"], "timm": True,
                    "kwargs": case["kwargs"], "optimizer": case["optimizer"], "groups": groups,
                    **rec})
    meta = {"library": "timm", "timm": VERSION, "torch": torch.__version__,
            "note": "entry k: the lr after step_update(k) (k = 0: as built)"}
    OUT.write_text(json.dumps({"meta": meta, "cases": out}, indent=None) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
