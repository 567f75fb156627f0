"""Bad input raises eagerly, naming the function, the argument and the value."""

from __future__ import annotations

import math

import pytest

import jaxsched

NAN, INF = math.nan, math.inf

BAD = [
    # (factory, kwargs, exception, message pattern)
    ("lr_range_test", dict(lr_range_test_step_size=0), ValueError,
     r"jaxsched.lr_range_test: lr_range_test_step_size must be in \[1, .*got 0"),
    ("lr_range_test", dict(lr_range_test_step_size=2.5), TypeError,
     r"lr_range_test_step_size must be an integer, got 2.5"),
    ("lr_range_test", dict(lr_range_test_min_lr=NAN), ValueError,
     r"lr_range_test_min_lr must be finite, got nan"),
    ("lr_range_test", dict(lr_range_test_step_rate=-1.0), ValueError,
     r"lr_range_test_step_rate must be >= 0, got -1.0"),
    ("lr_range_test", dict(lr_range_test_staircase=1), TypeError,
     r"lr_range_test_staircase must be a bool, got 1"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=INF), ValueError,
     r"cycle_max_lr must be finite, got inf"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_first_step_size=0), ValueError,
     r"cycle_first_step_size must be in \[1, .*got 0"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_second_step_size=-1),
     ValueError, r"cycle_second_step_size must be in \[0, .*got -1"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_min_mom="0.5"), TypeError,
     r"cycle_min_mom must be a real number, got '0.5'"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_max_mom=INF), ValueError,
     r"cycle_max_mom must be finite, got inf"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, decay_lr_rate=-0.5,
                       decay_step_size=4), ValueError,
     r"decay_lr_rate=-0.5 with decay_step_size=4 makes DeepSpeed's decay factor"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_first_stair_count=-2),
     ValueError, r"cycle_first_stair_count must be in \[0, .*got -2"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_first_stair_count=2**51),
     ValueError, r"cycle_first_stair_count \* cycle_first_step_size must be in "
     r"\[0, 9007199254740991\], got 4503599627370496000"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, decay_step_size=-3), ValueError,
     r"decay_step_size must be in \[0, .*got -3"),
    ("one_cycle", dict(cycle_min_lr="0.1", cycle_max_lr=1.0), TypeError,
     r"cycle_min_lr must be a real number, got '0.1'"),
    ("one_cycle", dict(cycle_min_lr=0.1, cycle_max_lr=1.0, cycle_first_step_size=2**53),
     ValueError, r"cycle_first_step_size must be in \[1, 9007199254740991\], got "
     r"9007199254740992"),
    ("warmup_lr", dict(warmup_num_steps=0, warmup_max_lr=0.1), ValueError,
     r"jaxsched.warmup_lr: warmup_num_steps must be in \[1, .*got 0"),
    ("warmup_lr", dict(), TypeError, r"warmup_max_lr=None inherits the optimizer's lr, so lr="),
    ("warmup_decay_lr", dict(total_num_steps=0), ValueError, r"total_num_steps must be in \[1"),
    ("warmup_decay_lr", dict(total_num_steps=True), TypeError,
     r"total_num_steps must be an integer, got True"),
    ("warmup_cosine_lr", dict(total_num_steps=2000, lr=0.1, cos_min_ratio=NAN), ValueError,
     r"cos_min_ratio must be finite, got nan"),
    ("warmup_lr", dict(warmup_type=None, warmup_max_lr=0.1), TypeError,
     r"warmup_type must be one of \('log', 'linear'\), got None"),
    ("warmup_cosine_lr", dict(total_num_steps=2000, lr=0.1, warmup_min_ratio="0.1"), TypeError,
     r"jaxsched.warmup_cosine_lr: warmup_min_ratio must be a real number, got '0.1'"),
    ("warmup_cosine_lr", dict(total_num_steps=2000, lr=0.1, cos_min_ratio=True), TypeError,
     r"cos_min_ratio must be a real number, got True"),
    ("warmup_cosine_lr", dict(total_num_steps=2000, lr=-1.0), ValueError,
     r"lr must be >= 0, got -1.0"),
]


@pytest.mark.parametrize("factory,kwargs,exc,match", BAD,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_factory_rejects(factory, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(jaxsched, factory)(**kwargs)


def test_warmup_cosine_requires_lr_keyword():
    with pytest.raises(TypeError, match="lr"):
        jaxsched.warmup_cosine_lr(100)


ADAPTER_BAD = [
    (lambda: jaxsched.WarmupLR([0.1, 0.2], warmup_min_lr=[0.0, 0.0, 0.0]), ValueError,
     r"jaxsched.WarmupLR: expected 2 values for warmup_min_lr \(one per param group\), got 3"),
    (lambda: jaxsched.OneCycle(0.1, [0.01, 0.02], 0.5), ValueError,
     r"jaxsched.OneCycle: expected 1 values for cycle_min_lr"),
    (lambda: jaxsched.LRRangeTest("sgd"), TypeError, r"jaxsched.LRRangeTest: optimizer must be"),
    (lambda: jaxsched.LRRangeTest([]), ValueError, r"optimizer has no param groups"),
    (lambda: jaxsched.LRRangeTest([{"momentum": 0.9}]), ValueError,
     r"optimizer\[0\] \(a param group\) has no 'lr'"),
    (lambda: jaxsched.LRRangeTest(NAN), ValueError, r"optimizer must be finite, got nan"),
    (lambda: jaxsched.LRRangeTest(True), TypeError, r"optimizer must be"),
    (lambda: jaxsched.WarmupLR(0.1, last_batch_iteration=-2), ValueError,
     r"jaxsched.WarmupLR: last_batch_iteration must be in \[-1, .*got -2"),
    (lambda: jaxsched.WarmupCosineLR([{"lr": -1.0}], 10), ValueError,
     r"optimizer\[0\]\['lr'\] must be >= 0, got -1.0"),
]


@pytest.mark.parametrize("make,exc,match", ADAPTER_BAD,
                         ids=[str(i) for i in range(len(ADAPTER_BAD))])
def test_adapter_rejects(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
