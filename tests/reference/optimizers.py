"""The torch optimizers the reference generators run their schedulers on."""

from __future__ import annotations

import torch


def torch_groups(optimizer: str, lrs: list[float], moms: list[float]) -> list[dict]:
    """Param-group settings: SGD groups carry ``momentum``, Adam groups ``betas``."""
    if optimizer == "SGD":
        return [{"lr": lr, "momentum": m} for lr, m in zip(lrs, moms, strict=True)]
    return [{"lr": lr, "betas": (m, 0.999)} for lr, m in zip(lrs, moms, strict=True)]


def make_optimizer(optimizer: str, groups: list[dict]) -> torch.optim.Optimizer:
    """A torch SGD (momentum 0.9) or Adam over one scalar parameter per group."""
    params = [dict(g, params=[torch.nn.Parameter(torch.zeros(1))]) for g in groups]
    if optimizer == "SGD":
        return torch.optim.SGD(params, lr=groups[0]["lr"], momentum=0.9)
    return torch.optim.Adam(params, lr=groups[0]["lr"])
