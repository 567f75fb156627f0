"""Every schedule by name, with its origin: how to build it from ``key=value`` settings, and
how to run the original library on the same settings (for ``jaxsched compare``).

The originals (torch, DeepSpeed, transformers, timm, Keras, Megatron) are imported only inside
``reference_curve``,
when a comparison asks for them; jaxsched itself never needs them.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

import jaxsched
from jaxsched import presets
from jaxsched.core import checks as check
from jaxsched.core.schedule import Schedule
from jaxsched.tools import parity
from jaxsched.transformers import schedules as huggingface

__all__ = ["ENTRIES", "Entry", "build", "lookup", "reference_curve"]

TORCH = "torch 2.13.0"
DEEPSPEED = "DeepSpeed 0.19.8"
HF = "Hugging Face transformers 5.23.0"
TIMM = "timm 1.0.31"
KERAS = "Keras 3.15.1"
MEGATRON = "megatron-core 0.16.1"
PRESET = "preset"
# timm:<create_scheduler_v2 name> -> (the pure factory in jaxsched.timm, timm's class)
TIMM_NAMES = {"cosine": ("cosine_lr", "CosineLRScheduler"), "tanh": ("tanh_lr", "TanhLRScheduler"),
              "poly": ("poly_lr", "PolyLRScheduler"), "step": ("step_lr", "StepLRScheduler"),
              "multistep": ("multistep_lr", "MultiStepLRScheduler"),
              "wsd": ("wsd_lr", "WSDLRScheduler")}


@dataclass(frozen=True)
class Entry:
    """One named schedule: ``example`` is a working set of ``key=value`` settings."""

    name: str
    origin: str
    example: str
    cli: bool = True  # False: takes other schedulers or metrics, Python API only

    @property
    def lambdas(self) -> bool:
        return self.name in ("LambdaLR", "MultiplicativeLR")


ENTRIES: dict[str, Entry] = {e.name: e for e in [
    Entry("LambdaLR", TORCH, "lr_lambda=pow095"),
    Entry("MultiplicativeLR", TORCH, "lr_lambda=wobble"),
    Entry("StepLR", TORCH, "step_size=100 gamma=0.5"),
    Entry("MultiStepLR", TORCH, "milestones=[300,600,900] gamma=0.3"),
    Entry("ConstantLR", TORCH, "factor=0.5 total_iters=200"),
    Entry("LinearLR", TORCH, "start_factor=0.1 total_iters=300"),
    Entry("ExponentialLR", TORCH, "gamma=0.997"),
    Entry("PolynomialLR", TORCH, "total_iters=800 power=2.0"),
    Entry("CosineAnnealingLR", TORCH, "T_max=500 eta_min=0.001"),
    Entry("CosineAnnealingWarmRestarts", TORCH, "T_0=100 T_mult=2"),
    Entry("CyclicLR", TORCH, "base_lr=0.01 max_lr=0.1 step_size_up=150"),
    Entry("OneCycleLR", TORCH, "max_lr=0.1 total_steps=1000"),
    Entry("SequentialLR", TORCH, "", cli=False),
    Entry("ChainedScheduler", TORCH, "", cli=False),
    Entry("ReduceLROnPlateau", TORCH, "", cli=False),
    Entry("LRRangeTest", DEEPSPEED, "lr_range_test_min_lr=0.001 lr_range_test_step_size=100"),
    Entry("OneCycle", DEEPSPEED, "cycle_min_lr=0.01 cycle_max_lr=0.1 "
                                 "cycle_first_step_size=300 decay_step_size=100 "
                                 "decay_lr_rate=0.1"),
    Entry("WarmupLR", DEEPSPEED, "warmup_max_lr=0.1 warmup_num_steps=200"),
    Entry("WarmupDecayLR", DEEPSPEED, "total_num_steps=1000 warmup_max_lr=0.1 "
                                      "warmup_num_steps=200"),
    Entry("WarmupCosineLR", DEEPSPEED, "total_num_steps=1000 warmup_num_steps=100"),
    *[Entry(f"hf:{t}", HF, {
        "linear": "num_warmup_steps=100 num_training_steps=1000",
        "cosine": "num_warmup_steps=100 num_training_steps=1000",
        "cosine_with_restarts": "num_warmup_steps=50 num_training_steps=1000 num_cycles=3",
        "polynomial": "num_warmup_steps=100 num_training_steps=1000 power=2.0",
        "constant": "",
        "constant_with_warmup": "num_warmup_steps=100",
        "inverse_sqrt": "num_warmup_steps=100",
        "cosine_with_min_lr": "num_warmup_steps=100 num_training_steps=1000 min_lr_rate=0.1",
        "cosine_warmup_with_min_lr": "num_warmup_steps=100 num_training_steps=1000 "
                                     "min_lr_rate=0.1",
        "warmup_stable_decay": "num_warmup_steps=100 num_training_steps=1000 "
                               "num_decay_steps=200",
        "reduce_lr_on_plateau": "", "greedy": ""}[t],
        cli=t not in ("reduce_lr_on_plateau", "greedy"))
      for t in huggingface.SCHEDULER_TYPES],
    Entry("timm:cosine", TIMM, "t_initial=300 warmup_t=50 warmup_lr_init=1e-4 cycle_limit=2 "
                               "cycle_mul=2.0 cycle_decay=0.5 lr_min=0.001"),
    Entry("timm:tanh", TIMM, "t_initial=800 warmup_t=100 lr_min=0.001"),
    Entry("timm:poly", TIMM, "t_initial=900 power=2.0 warmup_t=100 k_decay=0.5"),
    Entry("timm:step", TIMM, "decay_t=120 decay_rate=0.7 warmup_t=50"),
    Entry("timm:multistep", TIMM, "decay_t=[300,600,800] decay_rate=0.3 warmup_t=50"),
    Entry("timm:wsd", TIMM, "t_initial=900 decay_t=300 warmup_t=100 lr_min=0.001"),
    Entry("timm:plateau", TIMM, "", cli=False),
    Entry("keras:ExponentialDecay", KERAS, "decay_steps=100 decay_rate=0.5 staircase=True"),
    Entry("keras:InverseTimeDecay", KERAS, "decay_steps=100 decay_rate=1.0"),
    Entry("keras:PiecewiseConstantDecay", KERAS, "boundaries=[300,600] values=[0.1,0.05,0.01]"),
    Entry("keras:PolynomialDecay", KERAS, "decay_steps=300 end_learning_rate=0.001 power=2.0 "
                                          "cycle=True"),
    Entry("keras:CosineDecay", KERAS, "decay_steps=800 alpha=0.05 warmup_target=0.1 "
                                      "warmup_steps=100 initial_learning_rate=0.0"),
    Entry("keras:CosineDecayRestarts", KERAS, "first_decay_steps=100 t_mul=2.0 m_mul=0.7"),
    Entry("megatron:OptimizerParamScheduler", MEGATRON,
          "max_lr=0.1 min_lr=0.001 lr_warmup_steps=100 lr_decay_steps=900 "
          "lr_decay_style=WSD wsd_decay_steps=300 lr_wsd_decay_style=minus_sqrt"),
    Entry("wsd", PRESET, "peak_lr=0.001 total_steps=1000 warmup_steps=50"),
    Entry("deepseek-llm", PRESET, "total_steps=10000"),
    Entry("deepseek-v3", PRESET, "total_steps=14800"),
    Entry("inverse-sqrt", PRESET, "d_model=512"),
]}

PRESETS: dict[str, Callable[..., Schedule]] = {
    "wsd": presets.warmup_stable_decay, "deepseek-llm": presets.deepseek_llm,
    "deepseek-v3": presets.deepseek_v3_steps, "inverse-sqrt": presets.inverse_sqrt}
HF_STEPS = ("num_warmup_steps", "num_training_steps")
DEFAULT_LR = 0.1


def lookup(name: str) -> Entry:
    """The entry of ``name``; ``ValueError`` naming the choices when there is none."""
    if name not in ENTRIES:
        raise ValueError(f"unknown schedule {name!r}{check.did_you_mean(name, ENTRIES)}; "
                         f"`jaxsched list` shows the {len(ENTRIES)} names")
    entry = ENTRIES[name]
    if not entry.cli:
        raise ValueError(f"{name} takes other schedulers or a metric each step, so it has no "
                         f"curve of key=value settings; use it from Python "
                         f"(jaxsched.{name.removeprefix('hf:')})")
    return entry


def _group(lr: float) -> list[dict[str, Any]]:
    """One Adam-like param group, so momentum-cycling schedules cycle beta1."""
    return [{"lr": lr, "betas": (0.9, 0.999)}]


def _split(name: str, settings: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    settings = dict(settings)
    lr = settings.pop("lr", DEFAULT_LR)
    if ENTRIES[name].lambdas and isinstance(settings.get("lr_lambda"), str):
        fn = settings["lr_lambda"]
        if fn not in parity.LAMBDAS:
            raise ValueError(f"lr_lambda must name one of {sorted(parity.LAMBDAS)}, got {fn!r}")
        settings["lr_lambda"] = parity.LAMBDAS[fn]
    return lr, settings


def _keras_settings(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Keras takes the lr as ``initial_learning_rate`` (``lr=`` is accepted for it, default
    0.1); PiecewiseConstantDecay takes none."""
    kwargs = dict(settings)
    cls = getattr(jaxsched.keras, name.removeprefix("keras:"))
    allowed = set(_parameters(cls)) | {"lr"}
    check.known_keywords(name, kwargs, allowed - {"self"}, "setting")
    lr = kwargs.pop("lr", DEFAULT_LR)
    if "initial_learning_rate" in _parameters(cls):
        kwargs.setdefault("initial_learning_rate", lr)
    return kwargs


def _parameters(f: Callable[..., Any]) -> list[str]:
    import inspect

    return list(inspect.signature(f).parameters)


def build(name: str, settings: dict[str, Any]) -> Schedule:
    """The pure schedule ``name`` with ``settings`` (``lr`` is the optimizer's lr)."""
    entry = lookup(name)
    if entry.origin == PRESET:
        check.known_keywords(name, settings, _parameters(PRESETS[name]), "setting")
        return PRESETS[name](**settings)
    if entry.origin == MEGATRON:
        check.known_keywords(name, settings, _parameters(jaxsched.megatron.lr_schedule),
                             "setting")
        return jaxsched.megatron.lr_schedule(**settings)
    if entry.origin == KERAS:
        cls = getattr(jaxsched.keras, name.removeprefix("keras:"))
        return cls(**_keras_settings(name, settings))
    lr, kwargs = _split(name, settings)
    if entry.origin == TIMM:
        factory = getattr(jaxsched.timm, TIMM_NAMES[name.removeprefix("timm:")][0])
        check.known_keywords(name, kwargs, set(_parameters(factory)) - {"step_zero"},
                             "setting")
        try:
            return factory(lr=lr, **kwargs)
        except TypeError as err:
            if str(err).startswith(f"{factory.__name__}()"):  # a missing setting
                raise TypeError(f"jaxsched.timm.{err}") from None
            raise
    if entry.origin != HF:
        check.known_keywords(name, kwargs, set(_parameters(getattr(jaxsched, name))) - {
            "optimizer", "last_epoch", "last_batch_iteration"} | {"lr"}, "setting")
    if entry.origin == HF:
        steps = {k: kwargs.pop(k) for k in HF_STEPS if k in kwargs}
        return huggingface.get_scheduler(name.removeprefix("hf:"), lr, **steps,
                                         scheduler_specific_kwargs=kwargs)
    try:
        return getattr(jaxsched, name)(_group(lr), **kwargs).schedules[0]
    except TypeError as err:
        if str(err).startswith(f"{name}.__init__()"):  # a missing or unknown setting
            raise TypeError(f"jaxsched.{err}") from None
        raise


def reference_curve(name: str, settings: dict[str, Any], steps: int,
                    progress: Callable[[Iterable[int]], Iterable[int]] = iter
                    ) -> dict[str, np.ndarray]:
    """``{"lr": ..., "momentum": ...}`` over ``steps`` steps from the original library
    (entry ``k`` after ``k`` calls of ``step()``). Raises ``ImportError`` without it and
    ``LookupError`` for a preset, which has no original library."""
    entry = lookup(name)
    if entry.origin == PRESET:
        raise LookupError(f"{name} is a jaxsched preset: there is no original library to "
                          f"compare with")
    if entry.origin == MEGATRON:
        return megatron_curve(settings, steps, progress)
    if entry.origin == KERAS:
        return keras_curve(name.removeprefix("keras:"), _keras_settings(name, settings),
                           range(steps), progress)
    import torch

    lr, kwargs = _split(name, settings)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=lr)
    if entry.origin == TIMM:
        cls = TIMM_NAMES[name.removeprefix("timm:")][1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = getattr(import_timm_schedulers(), cls)(opt, t_in_epochs=False, **kwargs)
        return walk(opt, PerUpdate(sched), steps, progress)
    if entry.origin == HF:
        import transformers

        steps_kw = {k: kwargs.pop(k) for k in HF_STEPS if k in kwargs}
        sched = transformers.get_scheduler(name.removeprefix("hf:"), opt, **steps_kw,
                                           scheduler_specific_kwargs=kwargs)
    elif entry.origin == DEEPSPEED:
        lr_schedules = import_deepspeed_schedules()

        sched = getattr(lr_schedules, name)(opt, **kwargs)
    else:
        sched = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
    return walk(opt, sched, steps, progress)


def import_deepspeed_schedules() -> Any:
    """``deepspeed.runtime.lr_schedules``, without DeepSpeed's accelerator-detection and
    read-before-step log lines (this process only needs its CPU schedulers)."""
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    from deepspeed.runtime import lr_schedules

    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)
    return lr_schedules


def import_timm_schedulers() -> Any:
    """``timm.scheduler`` without running ``timm/__init__.py``, which imports torchvision
    (not installable beside the pinned torch here): ``timm`` is registered as a bare
    namespace over its installed folder, so only the scheduler package (torch and numpy)
    is imported. A fully imported timm is used as it is."""
    import importlib
    import importlib.util
    import types

    if "timm" not in sys.modules:
        spec = importlib.util.find_spec("timm")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("jaxsched: timm is not installed (pip install --no-deps "
                              "timm==1.0.31)")
        package = types.ModuleType("timm")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["timm"] = package
    return importlib.import_module("timm.scheduler")


def import_keras_schedules() -> Any:
    """``keras.optimizers.schedules`` on the JAX backend (``KERAS_BACKEND=jax`` unless the
    environment chose another before)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    return keras.optimizers.schedules


def keras_curve(cls: str, kwargs: dict[str, Any], steps: Iterable[int],
                progress: Callable[[Iterable[int]], Iterable[int]] = iter
                ) -> dict[str, np.ndarray]:
    """A live Keras schedule at ``steps``: ``schedule(iterations)`` jitted, as Keras's JAX
    train step evaluates it (eagerly, each call of a schedule with ``ops.cond`` re-traces
    its branches: 0.1-0.25 s a step; jitted results can differ from eager ones by a float32
    ulp)."""
    import jax
    import jax.numpy as jnp

    schedule = getattr(import_keras_schedules(), cls)(**kwargs)
    evaluate = jax.jit(schedule.__call__)
    lrs = [float(evaluate(jnp.asarray(k, jnp.int32))) for k in progress(list(steps))]
    return {"lr": np.asarray(lrs), "momentum": np.full(len(lrs), np.nan)}


def megatron_curve(settings: dict[str, Any], steps: int,
                   progress: Callable[[Iterable[int]], Iterable[int]] = iter
                   ) -> dict[str, np.ndarray]:
    """Megatron's OptimizerParamScheduler stepped by 1 (``step(increment=1)``), its lr read
    from the param group it writes; weight decay held at 0 (not part of the lr curve)."""
    import types

    with warnings.catch_warnings():  # Transformer Engine / Apex absent: Megatron warns
        warnings.simplefilter("ignore")
        from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
    logging.getLogger("megatron").setLevel(logging.WARNING)
    opt = types.SimpleNamespace(param_groups=[{"lr": 0.0}])
    kw = dict(init_lr=0.0, start_wd=0.0, end_wd=0.0, wd_incr_steps=1,
              wd_incr_style="constant")
    kw.update(settings)
    sched = OptimizerParamScheduler(opt, **kw)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in progress(range(1, steps)):
        sched.step(increment=1)
        lrs.append(opt.param_groups[0]["lr"])
    return {"lr": np.asarray(lrs), "momentum": np.full(len(lrs), np.nan)}


class PerUpdate:
    """A timm scheduler stepped as timm's train.py does per update: ``step_update(n)``."""

    def __init__(self, sched: Any) -> None:
        self.sched, self.n = sched, 0

    def step(self) -> None:
        self.n += 1
        self.sched.step_update(self.n)


def walk(opt: Any, sched: Any, steps: int,
         progress: Callable[[Iterable[int]], Iterable[int]] = iter) -> dict[str, np.ndarray]:
    """Steps a live torch-style scheduler, reading its optimizer's lr and beta1/momentum."""
    lrs, moms = [], []

    def read() -> None:
        group = opt.param_groups[0]
        lrs.append(float(group["lr"]))
        moms.append(float(group["betas"][0]) if "betas" in group
                    else float(group.get("momentum", np.nan)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read()
        for _ in progress(range(1, steps)):
            try:
                sched.step()
            except ValueError as err:  # e.g. torch's OneCycleLR past total_steps
                print(f"the reference stopped after {len(lrs)} steps: {err}", file=sys.stderr)
                break
            read()
    return {"lr": np.asarray(lrs), "momentum": np.asarray(moms)}


def stored_case(name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """A stored reference case with exactly these settings and one group, if any."""
    lr, kwargs = _split(name, settings)
    for family in parity.FAMILIES:
        for case in parity.load_cases(family):
            cls = f"hf:{case['hf']}" if "hf" in case else case["class"]
            if cls != name or len(case["groups"]) != 1 or case["groups"][0]["lr"] != lr:
                continue
            theirs = dict(case["kwargs"])
            theirs.update(theirs.pop("scheduler_specific_kwargs", None) or {})
            if parity.resolve_lambdas(theirs) == kwargs:
                return case
    return None
