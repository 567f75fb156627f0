"""``from_torch``: a live torch or DeepSpeed scheduler, at any step, as a jaxsched adapter.

torch and DeepSpeed are never imported: the scheduler is read through its attributes and its
``state_dict()``, and the new adapter then loads that state dict, which also checks that every
setting was carried over.
"""

from __future__ import annotations

from typing import Any

from jaxsched.core.plateau import ReduceLROnPlateau
from jaxsched.deepspeed import adapters as deepspeed_adapters
from jaxsched.pytorch import adapters, composite_adapters, cyclic_adapters

__all__ = ["from_torch"]

TORCH_MODULE = "torch.optim.lr_scheduler"
DEEPSPEED_MODULE = "deepspeed.runtime.lr_schedules"


def _groups(sched: Any, lrs: list[float] | None = None) -> list[dict[str, Any]]:
    groups = []
    for i, g in enumerate(sched.optimizer.param_groups):
        group = {k: v for k, v in g.items() if k in ("lr", "momentum", "betas", "initial_lr")}
        if lrs is not None:
            group["lr"] = float(lrs[i])
        groups.append(group)
    return groups


def _pct_start(end_step: float, total: int) -> float:
    """The ``pct_start`` whose ``float(pct * total) - 1`` is torch's stored phase end."""
    pct = (end_step + 1) / total
    for _ in range(8):
        got = float(pct * total) - 1
        if got == end_step:
            break
        pct = pct + (end_step - got) / total
    return pct


def _torch_kwargs(name: str, s: Any) -> dict[str, Any]:
    if name in ("LambdaLR", "MultiplicativeLR"):
        return {"lr_lambda": list(s.lr_lambdas)}
    if name == "MultiStepLR":
        return {"milestones": sorted(s.milestones.elements()), "gamma": s.gamma}
    simple = {"StepLR": ("step_size", "gamma"), "ConstantLR": ("factor", "total_iters"),
              "LinearLR": ("start_factor", "end_factor", "total_iters"),
              "ExponentialLR": ("gamma",), "PolynomialLR": ("total_iters", "power"),
              "CosineAnnealingLR": ("T_max", "eta_min"),
              "CosineAnnealingWarmRestarts": ("T_0", "T_mult", "eta_min")}
    if name in simple:
        return {key: getattr(s, key) for key in simple[name]}
    if name == "CyclicLR":
        up = round(s.step_ratio * s.total_size)
        kwargs = dict(base_lr=list(s.base_lrs), max_lr=list(s.max_lrs), step_size_up=up,
                      step_size_down=round(s.total_size) - up, mode=s.mode, gamma=s.gamma,
                      scale_fn=s._scale_fn_custom, scale_mode=s.scale_mode,
                      cycle_momentum=s.cycle_momentum)
        if s.cycle_momentum:
            kwargs.update(base_momentum=list(s.base_momentums),
                          max_momentum=list(s.max_momentums))
        return kwargs
    if name == "OneCycleLR":
        groups = s.optimizer.param_groups
        phases = s._schedule_phases
        kwargs = dict(max_lr=[g["max_lr"] for g in groups], total_steps=s.total_steps,
                      pct_start=_pct_start(phases[0]["end_step"], s.total_steps),
                      anneal_strategy=s._anneal_func_type, cycle_momentum=s.cycle_momentum,
                      div_factor=groups[0]["max_lr"] / groups[0]["initial_lr"],
                      final_div_factor=groups[0]["initial_lr"] / groups[0]["min_lr"],
                      three_phase=len(phases) == 3)
        if s.cycle_momentum:
            kwargs.update(base_momentum=[g["base_momentum"] for g in groups],
                          max_momentum=[g["max_momentum"] for g in groups])
        return kwargs
    raise TypeError(f"jaxsched.from_torch: no jaxsched port of torch's {name}")


def _from_torch(sched: Any, name: str) -> Any:
    if name == "ReduceLROnPlateau":
        out = ReduceLROnPlateau(
            _groups(sched, sched._last_lr), mode=sched.mode, factor=sched.factor,
            patience=sched.patience, threshold=sched.threshold,
            threshold_mode=sched.threshold_mode, cooldown=sched.cooldown,
            min_lr=sched.default_min_lr if sched.default_min_lr is not None
            else list(sched.min_lrs), eps=sched.eps)
        out.load_state_dict(sched.state_dict())
        return out
    out = _build_torch(sched, name)
    out.load_state_dict(sched.state_dict())  # checks every setting, then sets the step
    return out


def _torch_class(name: str) -> Any:
    module = cyclic_adapters if hasattr(cyclic_adapters, name) else adapters
    return getattr(module, name)


def _build_torch(sched: Any, name: str) -> Any:
    """The adapter at step 0 (the children of a composite get their step from it)."""
    if name in ("SequentialLR", "ChainedScheduler"):
        children = [_build_torch(c, type(c).__name__) for c in sched._schedulers]
        if name == "ChainedScheduler":
            return composite_adapters.ChainedScheduler(children)
        groups = _groups(sched, [g["initial_lr"] for g in sched.optimizer.param_groups])
        return composite_adapters.SequentialLR(groups, children, list(sched._milestones))
    return _torch_class(name)(_groups(sched, list(sched.base_lrs)),
                                   **_torch_kwargs(name, sched))


def _from_deepspeed(s: Any, name: str) -> Any:
    if name == "LRRangeTest":
        kwargs = dict(lr_range_test_min_lr=list(s.min_lr), lr_range_test_step_size=s.step_size,
                      lr_range_test_step_rate=s.step_rate, lr_range_test_staircase=s.staircase)
        groups = _groups(s)
    elif name == "OneCycle":
        kwargs = dict(cycle_min_lr=list(s.min_lrs), cycle_max_lr=list(s.max_lrs),
                      decay_lr_rate=s.decay_lr_rate, cycle_first_step_size=s.first_step_size,
                      cycle_second_step_size=s.second_step_size,
                      cycle_first_stair_count=s.first_stair_count,
                      cycle_second_stair_count=s.second_stair_count,
                      decay_step_size=s.decay_step_size, cycle_momentum=s.cycle_momentum)
        if s.cycle_momentum:
            kwargs.update(cycle_min_mom=[m[0] for m in s.min_moms],
                          cycle_max_mom=[m[0] for m in s.max_moms],
                          decay_mom_rate=s.decay_mom_rate)
        groups = _groups(s)
    elif name in ("WarmupLR", "WarmupDecayLR"):
        kwargs = dict(warmup_min_lr=list(s.min_lrs), warmup_max_lr=list(s.max_lrs),
                      warmup_num_steps=s.warmup_num_steps, warmup_type=s.warmup_type)
        if name == "WarmupDecayLR":
            kwargs["total_num_steps"] = s.total_num_steps
        groups = _groups(s)
    elif name == "WarmupCosineLR":
        kwargs = dict(total_num_steps=s.total_num_steps, warmup_min_ratio=s.warmup_min_ratio,
                      warmup_num_steps=s.warmup_num_steps, cos_min_ratio=s.cos_min_ratio,
                      warmup_type=s.warmup_type)
        groups = _groups(s, [float(x) for x in s.org_lrs])
    else:
        raise TypeError(f"jaxsched.from_torch: no jaxsched port of DeepSpeed's {name}")
    out = getattr(deepspeed_adapters, name)(groups, **kwargs)
    out.load_state_dict(s.state_dict())
    return out


def from_torch(scheduler: Any) -> Any:
    """The jaxsched adapter equivalent to a live torch or DeepSpeed scheduler, at its step.

    Works on every ``torch.optim.lr_scheduler`` class jaxsched ports (``SequentialLR`` and
    ``ChainedScheduler`` recursively) and on DeepSpeed's five. Lambdas (``LambdaLR``,
    ``MultiplicativeLR``, ``CyclicLR``'s ``scale_fn``) are carried over when they are
    jnp-traceable. The adapter's ``param_groups`` take ``momentum`` / ``betas`` from the
    scheduler's optimizer.

    Args:
        scheduler: a torch ``LRScheduler`` / ``ReduceLROnPlateau`` or a DeepSpeed schedule.

    Returns:
        The jaxsched adapter of the same class name, at the same ``last_epoch`` /
        ``last_batch_iteration``.

    Raises:
        TypeError: for an object that is not one of those schedulers, or whose lambdas are
            not jnp-traceable.

    Example:
        >>> import torch, jaxsched
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> for _ in range(3):
        ...     opt.step(); sched.step()
        >>> ours = jaxsched.from_torch(sched)
        >>> ours.last_epoch, ours.get_last_lr() == sched.get_last_lr()
        (3, True)
    """
    module = type(scheduler).__module__
    name = type(scheduler).__name__
    if module.startswith(TORCH_MODULE):
        return _from_torch(scheduler, name)
    if module.startswith(DEEPSPEED_MODULE):
        return _from_deepspeed(scheduler, name)
    raise TypeError(f"jaxsched.from_torch: scheduler must be a torch.optim.lr_scheduler or "
                    f"deepspeed.runtime.lr_schedules object, got {scheduler!r}")
