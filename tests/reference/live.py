"""The real reference scheduler for a jaxsched schedule, from its name and params, and its
curve (the lr and momentum/beta1 in force after each ``step()``). Imports torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jaxsched.tools import catalog

from optimizers import make_optimizer, torch_groups

DEEPSPEED = {"jaxsched.lr_range_test": "LRRangeTest", "jaxsched.one_cycle": "OneCycle",
             "jaxsched.warmup_lr": "WarmupLR", "jaxsched.warmup_decay_lr": "WarmupDecayLR",
             "jaxsched.warmup_cosine_lr": "WarmupCosineLR"}
TORCH = {"jaxsched.step_lr": "StepLR", "jaxsched.multi_step_lr": "MultiStepLR",
         "jaxsched.constant_lr": "ConstantLR", "jaxsched.linear_lr": "LinearLR",
         "jaxsched.exponential_lr": "ExponentialLR", "jaxsched.polynomial_lr": "PolynomialLR",
         "jaxsched.cosine_annealing_lr": "CosineAnnealingLR",
         "jaxsched.cosine_annealing_warm_restarts": "CosineAnnealingWarmRestarts",
         "jaxsched.cyclic_lr": "CyclicLR", "jaxsched.one_cycle_lr": "OneCycleLR"}


def optimizer(lr: float, adam: bool) -> torch.optim.Optimizer:
    """One group at ``lr``: Adam with betas (0.9, 0.999), or SGD with momentum 0.9."""
    kind = "Adam" if adam else "SGD"
    return make_optimizer(kind, torch_groups(kind, [lr], [0.9]))


def scheduler(schedule: Any, opt: Any = None) -> tuple[Any, Any] | None:
    """``(torch_optimizer, live_scheduler)`` for ``schedule``, or ``None`` for a preset."""
    name, p = schedule.name, dict(schedule.params)
    if name.startswith("jaxsched.get_scheduler("):
        import transformers

        opt = opt or optimizer(p["lr"], adam=True)
        kw = {k: v for k, v in p.items()
              if k not in ("name", "num_warmup_steps", "num_training_steps", "lr")}
        return opt, transformers.get_scheduler(
            p["name"], opt, num_warmup_steps=p["num_warmup_steps"],
            num_training_steps=p["num_training_steps"], scheduler_specific_kwargs=kw)
    if name.startswith("jaxsched.keras."):
        return None  # Keras has no stepping scheduler: tests/test_keras.py compares it
    if name.startswith("jaxsched.timm."):
        import warnings

        cls = {f: c for f, c in catalog.TIMM_NAMES.values()}[name.removeprefix("jaxsched.timm.")]
        opt = opt or optimizer(p["lr"], adam=True)
        kw = {k: v for k, v in p.items() if k not in ("lr", "lr_scale", "step_zero")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = getattr(catalog.import_timm_schedulers(), cls)(opt, t_in_epochs=False, **kw)
        return opt, catalog.PerUpdate(sched)
    if name in DEEPSPEED:
        lr_schedules = catalog.import_deepspeed_schedules()
        lr = p.pop("lr", None)
        if lr is None:
            lr = p.get("warmup_max_lr", p.get("cycle_max_lr", p.get("lr_range_test_min_lr")))
        opt = opt or optimizer(lr, adam=True)
        return opt, getattr(lr_schedules, DEEPSPEED[name])(opt, **p)
    lrs = torch.optim.lr_scheduler
    if name in TORCH:
        lr = p.pop("lr", None) or p.get("max_lr") or 0.1
        cycles = name in ("jaxsched.cyclic_lr", "jaxsched.one_cycle_lr")
        opt = opt or optimizer(lr, adam=not cycles)
        return opt, getattr(lrs, TORCH[name])(opt, **p)
    if name in ("jaxsched.sequential_lr", "jaxsched.chained_scheduler"):
        opt = opt or optimizer(p["lr"], adam=True)
        children = [scheduler(c, opt)[1] for c in p["schedules"]]
        if name == "jaxsched.chained_scheduler":
            return opt, lrs.ChainedScheduler(children)
        return opt, lrs.SequentialLR(opt, children, p["milestones"])
    return None


def curve(schedule: Any, steps: int) -> dict[str, np.ndarray] | None:
    """The live reference's lr and momentum over ``steps`` steps, or ``None`` (a preset)."""
    built = scheduler(schedule)
    if built is None:
        return None
    opt, sched = built
    return catalog.walk(opt, sched, steps)
