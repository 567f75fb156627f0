"""``from_deepspeed_config``: the ``scheduler`` section of a DeepSpeed config as an adapter."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

from jaxsched.core import checks as check
from jaxsched.core.plateau import ReduceLROnPlateau
from jaxsched.deepspeed import adapters as deepspeed_adapters
from jaxsched.pytorch import adapters as torch_adapters
from jaxsched.pytorch import cyclic_adapters

__all__ = ["from_deepspeed_config"]

DEEPSPEED_TYPES = ("LRRangeTest", "OneCycle", "WarmupLR", "WarmupDecayLR", "WarmupCosineLR")
TORCH_TYPES = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
               "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
               "OneCycleLR", "ReduceLROnPlateau")
ADAM_LIKE = ("adam", "lamb", "lion", "muadam")  # DeepSpeed optimizers with betas


def _adapter_class(name: str) -> Any:
    """The adapter class of a DeepSpeed or torch scheduler ``type`` (one already checked)."""
    if name == "ReduceLROnPlateau":
        return ReduceLROnPlateau
    for module in (deepspeed_adapters, cyclic_adapters, torch_adapters):
        if name in module.__all__:
            return getattr(module, name)
    raise LookupError(name)


def _read(fn: str, config: Any) -> Mapping[str, Any]:
    if isinstance(config, (str, os.PathLike)):
        path = pathlib.Path(config)
        try:
            text = path.read_text()
        except OSError as err:
            raise ValueError(f"{fn}: cannot read config {str(path)!r}: {err}") from None
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{fn}: config {str(path)!r} is not valid JSON: {err}") from None
    if not isinstance(config, Mapping):
        raise TypeError(f"{fn}: config must be a dict or a path to a JSON file, got {config!r}")
    return config


def _no_auto(fn: str, where: str, params: Mapping[str, Any]) -> None:
    auto = sorted(k for k, v in params.items() if v == "auto")
    if auto:
        raise ValueError(f"{fn}: {where} has \"auto\" for {auto}; \"auto\" is filled in by "
                         f"Hugging Face's Trainer, so give the numbers here")


SETS_OWN_LR = ("LRRangeTest", "OneCycle", "WarmupLR", "WarmupDecayLR", "CyclicLR", "OneCycleLR")


def _groups(fn: str, config: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """One param group from the config's ``optimizer`` section. Without one, a scheduler
    that sets the lr from its own params (all of DeepSpeed's but WarmupCosineLR, torch's
    CyclicLR and OneCycleLR) gets one SGD-like group whose lr it overwrites at once."""
    section = config.get("optimizer")
    if section is None and name in SETS_OWN_LR:
        return [{"lr": 0.0, "momentum": 0.0}]
    if not isinstance(section, Mapping) or not isinstance(section.get("params"), Mapping):
        raise ValueError(f"{fn}: no optimizer= given and the config has no "
                         f"\"optimizer\": {{\"params\": {{\"lr\": ...}}}} to read the lr from, "
                         f"got {section!r}")
    params = section["params"]
    _no_auto(fn, "optimizer.params", params)
    if "lr" not in params:
        raise ValueError(f"{fn}: optimizer.params has no \"lr\", got {dict(params)!r}")
    group: dict[str, Any] = {"lr": params["lr"]}
    kind = str(section.get("type", "")).lower()
    if "betas" in params or any(name in kind for name in ADAM_LIKE):
        group["betas"] = tuple(params.get("betas", (0.9, 0.999)))
    else:
        group["momentum"] = params.get("momentum", 0.0)
    return [group]


def from_deepspeed_config(config: Any, optimizer: Any = None) -> Any:
    """The adapter for a DeepSpeed config's ``"scheduler": {"type", "params"}``.

    As DeepSpeed's engine does, ``type`` names one of DeepSpeed's schedules (LRRangeTest,
    OneCycle, WarmupLR, WarmupDecayLR, WarmupCosineLR) or else a
    ``torch.optim.lr_scheduler`` class, built as ``cls(optimizer, **params)``.

    Args:
        config: the config as a dict, or the path of its JSON file.
        optimizer: what the adapter schedules (an lr, param groups, a torch optimizer or an
            optax ``inject_hyperparams`` state); by default one group made from the config's
            ``optimizer.params`` (``lr``, and ``betas`` for Adam-like types, else
            ``momentum``); a config without an ``optimizer`` section works for the
            schedulers that take their lr from their own params (all but WarmupCosineLR of
            DeepSpeed's, torch's CyclicLR and OneCycleLR).

    Returns:
        The jaxsched adapter of that class (its ``schedules`` are the pure functions).

    Raises:
        ValueError: for a missing or unreadable config, no ``scheduler`` section, a type
            neither DeepSpeed nor jaxsched's torch ports know, missing ``params`` (DeepSpeed
            fails with ``**None``), ``"auto"`` values, or no lr to schedule.
        TypeError: for unknown or bad parameters, as the class raises them.

    Example:
        >>> import jaxsched
        >>> cfg = {"optimizer": {"type": "Adam", "params": {"lr": 0.001}},
        ...        "scheduler": {"type": "WarmupLR", "params": {
        ...            "warmup_min_lr": 0, "warmup_max_lr": 0.001,
        ...            "warmup_num_steps": 10, "warmup_type": "linear"}}}
        >>> sched = jaxsched.from_deepspeed_config(cfg)
        >>> for _ in range(6):
        ...     sched.step()
        >>> [round(x, 6) for x in sched.get_last_lr()]
        [0.0005]

    Matches ``DeepSpeedEngine._scheduler_from_config`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.from_deepspeed_config"
    config = _read(fn, config)
    section = config.get("scheduler")
    if not isinstance(section, Mapping) or "type" not in section:
        raise ValueError(f"{fn}: the config has no \"scheduler\": {{\"type\": ...}} section, "
                         f"got {section!r}")
    name = section["type"]
    if name not in DEEPSPEED_TYPES + TORCH_TYPES:
        raise ValueError(f"{fn}: scheduler type must be one of DeepSpeed's {DEEPSPEED_TYPES} "
                         f"or torch's {TORCH_TYPES}, got "
                         f"{name!r}{check.did_you_mean(name, DEEPSPEED_TYPES + TORCH_TYPES)}")
    params = section.get("params")
    if not isinstance(params, Mapping):
        raise ValueError(f"{fn}: scheduler {name!r} needs a \"params\" dict (DeepSpeed calls "
                         f"{name}(optimizer, **params)), got {params!r}")
    _no_auto(fn, "scheduler.params", params)
    groups = _groups(fn, config, name) if optimizer is None else optimizer
    try:
        return _adapter_class(name)(groups, **params)
    except TypeError as err:
        if "unexpected keyword" in str(err) or "missing" in str(err):
            raise TypeError(f"{fn}: scheduler {name!r} params {sorted(params)}: {err}") from None
        raise
