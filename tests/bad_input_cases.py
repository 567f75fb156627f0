"""The bad-input table: every public factory and adapter, each argument given values of the
wrong type or out of range, and combinations that invert a schedule's intent.

Each case is ``(id, call, exception, match)``: ``call()`` must raise ``exception`` with a
message matching ``match``, which names the function, the argument and the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import jaxsched
from jaxsched import presets

Case = tuple[str, Callable[[], Any], type, str]

# kinds: "lr" (real >= 0), "pos" (real > 0), "unit" ([0, 1]), "int1" (integer >= 1),
# "int0" (integer >= 0), "bool", "choice", "real" (any finite real), "nonzero" (finite,
# not 0: a divisor). torch accepts growth factors and swapped or out-of-[0, 1] momenta (kind
# "lr" or "real"); tests/test_torch_acceptance.py compares those live.
FACTORIES: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[str, str]]] = {
    "step_lr": (jaxsched.step_lr, dict(step_size=10, gamma=0.5, lr=0.1),
                dict(step_size="int1", gamma="real", lr="lr")),
    "multi_step_lr": (jaxsched.multi_step_lr, dict(milestones=[3, 6], gamma=0.5, lr=0.1),
                      dict(gamma="real", lr="lr")),
    "constant_lr": (jaxsched.constant_lr, dict(factor=0.5, total_iters=5, lr=0.1),
                    dict(factor="unit", total_iters="int0", lr="lr")),
    "linear_lr": (jaxsched.linear_lr, dict(start_factor=0.1, end_factor=1.0, total_iters=5,
                                           lr=0.1),
                  dict(start_factor="unit", end_factor="unit", total_iters="int0", lr="lr")),
    "exponential_lr": (jaxsched.exponential_lr, dict(gamma=0.9, lr=0.1),
                       dict(gamma="real", lr="lr")),
    "polynomial_lr": (jaxsched.polynomial_lr, dict(total_iters=10, power=2.0, lr=0.1),
                      dict(total_iters="int0", power="lr", lr="lr")),
    "cosine_annealing_lr": (jaxsched.cosine_annealing_lr, dict(T_max=10, eta_min=0.0, lr=0.1),
                            dict(T_max="int1", eta_min="lr", lr="lr")),
    "cosine_annealing_warm_restarts": (
        jaxsched.cosine_annealing_warm_restarts, dict(T_0=10, T_mult=2, eta_min=0.0, lr=0.1),
        dict(T_0="int1", T_mult="int1", eta_min="lr", lr="lr")),
    "cyclic_lr": (jaxsched.cyclic_lr, dict(base_lr=0.01, max_lr=0.1, step_size_up=10),
                  dict(base_lr="lr", max_lr="lr", step_size_up="int1", step_size_down="int0",
                       mode="choice", gamma="pos", scale_mode="choice",
                       cycle_momentum="bool", base_momentum="real", max_momentum="real")),
    "one_cycle_lr": (jaxsched.one_cycle_lr, dict(max_lr=0.1, total_steps=100),
                     dict(max_lr="lr", total_steps="int1", pct_start="unit",
                          anneal_strategy="choice", cycle_momentum="bool",
                          base_momentum="real", max_momentum="real", div_factor="nonzero",
                          final_div_factor="nonzero", three_phase="bool")),
    "lr_range_test": (jaxsched.lr_range_test, dict(lr_range_test_min_lr=0.001),
                      dict(lr_range_test_min_lr="signed", lr_range_test_step_size="int1",
                           lr_range_test_step_rate="lr", lr_range_test_staircase="bool")),
    "one_cycle": (jaxsched.one_cycle, dict(cycle_min_lr=0.01, cycle_max_lr=0.1),
                  dict(cycle_min_lr="signed", cycle_max_lr="signed", decay_lr_rate="real",
                       cycle_first_step_size="int1", cycle_second_step_size="int0",
                       cycle_first_stair_count="int0", cycle_second_stair_count="int0",
                       decay_step_size="int0", cycle_momentum="bool", cycle_min_mom="real",
                       cycle_max_mom="real", decay_mom_rate="lr")),
    "warmup_lr": (jaxsched.warmup_lr, dict(warmup_max_lr=0.1, warmup_num_steps=10),
                  dict(warmup_min_lr="signed", warmup_max_lr="signed", warmup_num_steps="int0",
                       warmup_type="name")),
    "warmup_decay_lr": (jaxsched.warmup_decay_lr,
                        dict(total_num_steps=100, warmup_max_lr=0.1, warmup_num_steps=10),
                        dict(total_num_steps="int1", warmup_min_lr="signed",
                             warmup_max_lr="signed",
                             warmup_num_steps="int0", warmup_type="name")),
    "warmup_cosine_lr": (jaxsched.warmup_cosine_lr,
                         dict(total_num_steps=100, warmup_num_steps=10, lr=0.1),
                         dict(total_num_steps="int1", warmup_min_ratio="real",
                              warmup_num_steps="int0", cos_min_ratio="real",
                              warmup_type="name", lr="lr")),
    "presets.warmup_stable_decay": (
        presets.warmup_stable_decay, dict(peak_lr=0.1, total_steps=100),
        dict(peak_lr="lr", total_steps="int1", warmup_steps="int0", decay_fraction="unit",
             decay_type="choice", warmup_type="choice", min_lr_ratio="unit")),
    "presets.deepseek_llm": (presets.deepseek_llm, dict(total_steps=10000),
                             dict(total_steps="int1", peak_lr="lr", warmup_steps="int0")),
    "presets.deepseek_v3_steps": (presets.deepseek_v3_steps, dict(total_steps=100000),
                            dict(total_steps="int1", peak_lr="lr", warmup_steps="int0",
                                 decayed_lr="lr", final_lr="lr")),
    "presets.inverse_sqrt": (presets.inverse_sqrt, dict(peak_lr=0.1),
                             dict(peak_lr="lr", warmup_steps="int1")),
    "per_epoch": (lambda **kw: jaxsched.per_epoch(jaxsched.step_lr(2, lr=0.1), **kw),
                  dict(steps_per_epoch=10), dict(steps_per_epoch="int1")),
}

BAD: dict[str, list[tuple[str, Any, type]]] = {
    "lr": [("str", "0.1", TypeError), ("bool", True, TypeError), ("list", [0.1], TypeError),
           ("nan", math.nan, ValueError), ("inf", math.inf, ValueError),
           ("negative", -0.1, ValueError)],
    "pos": [("str", "2", TypeError), ("zero", 0.0, ValueError), ("nan", math.nan, ValueError),
            ("negative", -1.0, ValueError)],
    "unit": [("str", "0.5", TypeError), ("bool", True, TypeError),
             ("above_one", 1.5, ValueError), ("negative", -0.5, ValueError),
             ("nan", math.nan, ValueError)],
    "int1": [("float", 2.5, TypeError), ("str", "3", TypeError), ("bool", True, TypeError),
             ("zero", 0, ValueError), ("huge", 2**53, ValueError)],
    "int0": [("float", 2.5, TypeError), ("str", "3", TypeError), ("negative", -1, ValueError)],
    "bool": [("str_no", "no", TypeError), ("int", 1, TypeError), ("none", None, TypeError)],
    "real": [("str", "0.5", TypeError), ("bool", True, TypeError), ("nan", math.nan, ValueError),
             ("inf", math.inf, ValueError)],
    "nonzero": [("str", "2", TypeError), ("zero", 0.0, ValueError),
                ("nan", math.nan, ValueError)],
    "choice": [("misspelt", "cosin", ValueError), ("int", 3, ValueError)],
    # an lr the reference takes with any sign (DeepSpeed's): only type confusion and
    # non-finite values are refused
    "signed": [("str", "0.1", TypeError), ("bool", True, TypeError), ("list", [0.1], TypeError),
               ("nan", math.nan, ValueError), ("inf", math.inf, ValueError)],
    # a name the reference only warns about when unknown (DeepSpeed's warmup_type): only a
    # value that is not a string is refused
    "name": [("int", 3, TypeError), ("none", None, TypeError)],
}


def factory_cases() -> list[Case]:
    cases: list[Case] = []
    for name, (factory, base, kinds) in FACTORIES.items():
        for arg, kind in kinds.items():
            for label, value, exc in BAD[kind]:
                kwargs = dict(base, **{arg: value})
                cases.append((f"{name}-{arg}-{label}",
                              lambda f=factory, kw=kwargs: f(**kw), exc,
                              rf"jaxsched\.{name}.*{arg}.*{re.escape(repr(value))}"))
    return cases


def _steppable() -> dict[str, Callable[[], Any]]:
    """A fresh adapter of every kind, stepped a few times, by name."""
    sgd = [{"lr": 0.1, "momentum": 0.9}]

    def stepped(make: Callable[[], Any], n: int = 3) -> Callable[[], Any]:
        def build() -> Any:
            sched = make()
            for i in range(n):
                sched.step(float(i)) if isinstance(sched, jaxsched.ReduceLROnPlateau) \
                    else sched.step()
            return sched
        return build

    return {
        "StepLR": stepped(lambda: jaxsched.StepLR(sgd, 2, 0.5)),
        "MultiStepLR": stepped(lambda: jaxsched.MultiStepLR(sgd, [2, 4], 0.5)),
        "ConstantLR": stepped(lambda: jaxsched.ConstantLR(sgd, 0.5, 4)),
        "LinearLR": stepped(lambda: jaxsched.LinearLR(sgd, 0.5, 1.0, 4)),
        "ExponentialLR": stepped(lambda: jaxsched.ExponentialLR(sgd, 0.9)),
        "PolynomialLR": stepped(lambda: jaxsched.PolynomialLR(sgd, 6, 2.0)),
        "CosineAnnealingLR": stepped(lambda: jaxsched.CosineAnnealingLR(sgd, 6, 0.01)),
        "CosineAnnealingWarmRestarts": stepped(
            lambda: jaxsched.CosineAnnealingWarmRestarts(sgd, 2, 2)),
        "CyclicLR": stepped(lambda: jaxsched.CyclicLR(sgd, 0.01, 0.1, 4)),
        "OneCycleLR": stepped(lambda: jaxsched.OneCycleLR(sgd, 0.1, total_steps=10)),
        "LambdaLR": stepped(lambda: jaxsched.LambdaLR(sgd, lambda k: 0.9 ** k)),
        "SequentialLR": stepped(lambda: jaxsched.SequentialLR(
            sgd, [jaxsched.ConstantLR(sgd, 0.5, 2), jaxsched.ExponentialLR(sgd, 0.9)], [2])),
        "ChainedScheduler": stepped(lambda: jaxsched.ChainedScheduler(
            [jaxsched.ConstantLR(sgd, 0.5, 2), jaxsched.ExponentialLR(sgd, 0.9)])),
        "ReduceLROnPlateau": stepped(lambda: jaxsched.ReduceLROnPlateau(sgd, patience=0)),
        "WarmupLR": stepped(lambda: jaxsched.WarmupLR(sgd, warmup_max_lr=0.1)),
        "WarmupDecayLR": stepped(lambda: jaxsched.WarmupDecayLR(sgd, 100, warmup_max_lr=0.1,
                                                         warmup_num_steps=10)),
        "WarmupCosineLR": stepped(lambda: jaxsched.WarmupCosineLR(sgd, 100, warmup_num_steps=10)),
        "OneCycle": stepped(lambda: jaxsched.OneCycle([{"lr": 0.1, "betas": (0.9, 0.99)}], 0.01,
                                                       0.1)),
        "LRRangeTest": stepped(lambda: jaxsched.LRRangeTest(sgd)),
    }


ADAPTERS = _steppable()


def _other(value: Any) -> list[Any]:
    """Values of the wrong type for a state-dict field holding ``value``."""
    if value is None:
        return ["x", 1.5]
    if isinstance(value, bool):
        return ["x", None]
    return ["x", None, [value, value]] if not isinstance(value, (list, dict)) else ["x", None]


# a valid setting a load adopts, as torch's does (not a bad value)
ADOPTED = {("ReduceLROnPlateau", "default_min_lr", "None")}


def state_cases() -> list[tuple[str, Callable[[], Any], dict[str, Any], str]]:
    """``(id, make adapter, bad state dict, match)``: every field of every adapter's state
    dict given a value of the wrong type, a missing field, and a child's field for the
    composites."""
    cases = []
    for name, make in ADAPTERS.items():
        good = make().state_dict()
        for key, value in good.items():
            for i, bad in enumerate(_other(value)):
                if (name, key, repr(bad)) in ADOPTED:
                    continue
                cases.append((f"{name}-{key}-{i}", make, dict(good, **{key: bad}),
                              rf"jaxsched\.{name}\.load_state_dict: .*{re.escape(key)}"))
            cases.append((f"{name}-{key}-missing", make,
                          {k: v for k, v in good.items() if k != key},
                          rf"jaxsched\.{name}\.load_state_dict: .*{re.escape(key)}"))
        if "_schedulers" in good:
            for key in good["_schedulers"][0]:
                children = [dict(c) for c in good["_schedulers"]]
                children[0][key] = "x"
                cases.append((f"{name}-child-{key}", make, dict(good, _schedulers=children),
                              rf"jaxsched\.{name}\.load_state_dict.*{re.escape(key)}"))
    cases.append(("StepLR-not-a-dict", ADAPTERS["StepLR"], ["last_epoch", 3],
                  r"jaxsched\.StepLR\.load_state_dict: state_dict must be a dict"))
    return cases
