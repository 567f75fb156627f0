"""DeepSpeed 0.19.8 configurations that jaxsched once refused and DeepSpeed accepts and
steps through with finite values: each compared live, three ways (ours in float64, float32
and the adapter; DeepSpeed; the exact value of its formula)."""

from __future__ import annotations

import warnings

import pytest

import jaxsched
from jaxsched.tools import parity

from helpers import require

lrs = require("deepspeed.runtime.lr_schedules")
generate = pytest.importorskip("generate_deepspeed")

# (id, class, kwargs, optimizer, group lrs, last step, warns)
ACCEPTED = [
    ("warmup_min_above_max", "WarmupLR",
     dict(warmup_min_lr=0.1, warmup_max_lr=0.01, warmup_num_steps=1000), "SGD", [0.1], 1200,
     None),
    ("warmup_min_above_max_linear_groups", "WarmupLR",
     dict(warmup_min_lr=[0.1, 0.3], warmup_max_lr=[0.01, 0.02], warmup_num_steps=500,
          warmup_type="linear"), "Adam", [0.1, 0.2], 700, None),
    ("decay_min_above_max", "WarmupDecayLR",
     dict(total_num_steps=3000, warmup_min_lr=0.05, warmup_max_lr=0.001,
          warmup_num_steps=200), "SGD", [0.1], 3100, None),
    ("decay_total_below_warmup", "WarmupDecayLR",
     dict(total_num_steps=100, warmup_min_lr=0.0, warmup_max_lr=0.01, warmup_num_steps=400),
     "SGD", [0.1], 600, "total_num_steps"),
    ("decay_unknown_warmup_type", "WarmupDecayLR",
     dict(total_num_steps=2000, warmup_max_lr=0.01, warmup_num_steps=300,
          warmup_type="cosine"), "SGD", [0.1], 2100, "unknown warmup_type"),
    ("cosine_ratios_outside_unit", "WarmupCosineLR",
     dict(total_num_steps=4000, warmup_min_ratio=1.5, warmup_num_steps=300,
          cos_min_ratio=2.0), "Adam", [3e-4], 4100, None),
    ("cosine_negative_floor", "WarmupCosineLR",
     dict(total_num_steps=4000, warmup_min_ratio=-0.5, warmup_num_steps=300,
          cos_min_ratio=-0.1, warmup_type="linear"), "SGD", [0.1], 4100, None),
    ("cosine_total_below_warmup", "WarmupCosineLR",
     dict(total_num_steps=50, warmup_num_steps=300), "SGD", [0.1], 400, "total_num_steps"),
    ("one_cycle_min_above_max", "OneCycle",
     dict(cycle_min_lr=0.1, cycle_max_lr=0.01, cycle_first_step_size=1000,
          cycle_second_step_size=1500, decay_lr_rate=0.01, decay_step_size=100,
          cycle_momentum=True), "Adam", [0.1], 3000, None),
    ("warmup_negative_min_crossing_zero", "WarmupLR",
     dict(warmup_min_lr=-0.05, warmup_max_lr=0.05, warmup_num_steps=400,
          warmup_type="linear"), "SGD", [0.1], 500, "is negative"),
    ("decay_negative_max", "WarmupDecayLR",
     dict(total_num_steps=1000, warmup_min_lr=0.0, warmup_max_lr=-0.01,
          warmup_num_steps=100), "SGD", [0.1], 1100, "is negative"),
    ("one_cycle_negative_min", "OneCycle",
     dict(cycle_min_lr=-0.01, cycle_max_lr=0.1, cycle_first_step_size=300,
          decay_lr_rate=0.1, decay_step_size=50), "SGD", [0.1], 900, "is negative"),
    ("one_cycle_momenta_swapped", "OneCycle",
     dict(cycle_min_lr=0.01, cycle_max_lr=0.1, cycle_first_step_size=500,
          cycle_min_mom=0.95, cycle_max_mom=0.85, cycle_momentum=True), "Adam", [0.1], 1200,
     None),
    # a negative decay_lr_rate: the decayed lr grows to a pole (at 333.3 decay steps here:
    # the lr there is 1e3 times the floor, each side) and turns negative past it
    ("one_cycle_negative_decay_rate", "OneCycle",
     dict(cycle_min_lr=0.01, cycle_max_lr=0.1, cycle_first_step_size=200,
          decay_lr_rate=-0.3, decay_step_size=100), "SGD", [0.1], 34_000,
     "decay_lr_rate=-0.3 is negative"),
    ("one_cycle_negative_decay_rate_stairs", "OneCycle",
     dict(cycle_min_lr=0.02, cycle_max_lr=0.2, cycle_first_step_size=150,
          cycle_second_step_size=90, cycle_first_stair_count=5, decay_lr_rate=-0.007,
          decay_step_size=3, cycle_momentum=True), "Adam", [0.1], 1000,
     "decay_lr_rate=-0.007 is negative"),
    ("one_cycle_momenta_outside_unit", "OneCycle",
     dict(cycle_min_lr=0.01, cycle_max_lr=0.1, cycle_first_step_size=300,
          cycle_min_mom=-0.2, cycle_max_mom=1.3, decay_mom_rate=0.01, decay_step_size=40,
          cycle_momentum=True), "Adam", [0.1], 900, None),
    ("lr_range_test_negative_min", "LRRangeTest",
     dict(lr_range_test_min_lr=-1e-4, lr_range_test_step_size=50,
          lr_range_test_step_rate=2.0), "SGD", [0.1], 800, "is negative"),
    ("lr_range_test_negative_min_staircase_groups", "LRRangeTest",
     dict(lr_range_test_min_lr=[-1e-3, 2e-4], lr_range_test_step_size=7,
          lr_range_test_step_rate=0.5, lr_range_test_staircase=True), "Adam", [0.1, 0.2], 300,
     "is negative"),
]


@pytest.mark.parametrize("name,cls,kwargs,optimizer,group_lrs,last,warns", ACCEPTED,
                         ids=[a[0] for a in ACCEPTED])
def test_accepted_configuration_matches_deepspeed(name, cls, kwargs, optimizer, group_lrs,
                                                  last, warns):
    groups = generate.torch_groups(optimizer, group_lrs, [0.9] * len(group_lrs))
    steps = [*range(last), 10**6, 2**31 - 1]
    case = dict(name=name, **{"class": cls}, kwargs=kwargs, optimizer=optimizer,
                groups=groups, **generate.record(cls, kwargs, optimizer, groups, steps))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        errors = parity.case_errors(case)
    ours = {str(w.message) for w in seen if issubclass(w.category, UserWarning)
            and "jaxsched" in str(w.message) and "cycle_momentum" not in str(w.message)}
    if warns is None:
        assert not ours, ours
    else:
        assert ours and all(warns in m for m in ours), ours
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


def test_unknown_warmup_type_warns_once_and_is_log():
    with pytest.warns(UserWarning, match=r"jaxsched\.warmup_lr: unknown warmup_type 'linar' "
                                         r"\(did you mean 'linear'\?\); the warmup is 'log'") \
            as record:
        s = jaxsched.warmup_lr(0.0, 1.0, warmup_num_steps=8, warmup_type="linar")
    assert len(record) == 1
    log = jaxsched.warmup_lr(0.0, 1.0, warmup_num_steps=8, warmup_type="log")
    assert [float(s(k)) for k in range(12)] == [float(log(k)) for k in range(12)]


def test_a_warmup_type_that_is_not_a_string_is_refused():
    with pytest.raises(TypeError, match=r"jaxsched\.warmup_lr: warmup_type must be one of "
                                        r"\('log', 'linear'\), got 3"):
        jaxsched.warmup_lr(0.0, 1.0, warmup_type=3)


def test_decay_rate_whose_pole_deepspeed_lands_on_is_refused():
    """decay_lr_rate -0.5 with decay_step_size 1: DeepSpeed's 1 + (-0.5) * (2 / 1) is 0, a
    ZeroDivisionError two steps after the cycle; refused eagerly, naming the step."""
    groups = generate.torch_groups("SGD", [0.1], [0.9])
    with pytest.raises(ZeroDivisionError):
        generate.record("OneCycle", dict(cycle_min_lr=0.01, cycle_max_lr=0.1,
                                         cycle_first_step_size=5, decay_lr_rate=-0.5,
                                         decay_step_size=1), "SGD", groups, list(range(20)))
    with pytest.raises(ValueError, match=r"jaxsched\.one_cycle: decay_lr_rate=-0\.5 with "
                                         r"decay_step_size=1 makes DeepSpeed's decay factor "
                                         r".* exactly 0 \(it divides by zero 2 steps"):
        jaxsched.one_cycle(0.01, 0.1, decay_lr_rate=-0.5, cycle_first_step_size=5,
                           decay_step_size=1)
    with pytest.raises(ValueError, match=r"jaxsched\.OneCycle: decay_lr_rate=-0\.1"):
        jaxsched.OneCycle([{"lr": 0.1}], 0.01, 0.1, decay_lr_rate=-0.1, decay_step_size=1)
