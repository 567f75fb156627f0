"""Bad input to the timm port: raised eagerly, naming the function, the argument and the
value; where timm raises, loops forever, or silently misbehaves. A refused
``load_state_dict`` leaves the adapter unchanged."""

from __future__ import annotations

import copy

import pytest

from jaxsched import timm

CASES = {
    "t_initial_zero": (lambda: timm.cosine_lr(0, lr=0.1), ValueError,
                       r"cosine_lr: t_initial must be in \[1, .*got 0"),
    "t_initial_bool": (lambda: timm.cosine_lr(True, lr=0.1), TypeError,
                       r"t_initial must be an integer, got True"),
    "lr_min_above_lr": (lambda: timm.cosine_lr(10, lr_min=0.2, lr=0.1), ValueError,
                        r"lr_min \(0.2\) must not exceed lr \(0.1\).*timm accepts"),
    "cycle_mul_below_1": (lambda: timm.cosine_lr(10, cycle_mul=0.5, lr=0.1), ValueError,
                          r"cycle_mul must be >= 1, got 0.5 .*math domain error"),
    "cycle_decay_growth": (lambda: timm.tanh_lr(10, cycle_decay=1.5, lr=0.1), ValueError,
                           r"cycle_decay must be in \[0, 1\], got 1.5.*grows"),
    "k_decay_zero": (lambda: timm.cosine_lr(10, k_decay=0.0, lr=0.1), ValueError,
                     r"k_decay must be > 0, got 0.0"),
    "tanh_bounds_swapped": (lambda: timm.tanh_lr(10, lb=3.0, ub=-7.0, lr=0.1), ValueError,
                            r"tanh_lr: lb \(3.0\) must be below ub \(-7.0\)"),
    "poly_negative_power": (lambda: timm.poly_lr(10, power=-1.0, lr=0.1), ValueError,
                            r"poly_lr: power must be >= 0, got -1.0"),
    "warmup_prefix_string": (lambda: timm.cosine_lr(10, warmup_prefix="no", lr=0.1),
                             TypeError, r"warmup_prefix must be a bool, got 'no'"),
    "step_decay_t_zero": (lambda: timm.step_lr(0, lr=0.1), ValueError,
                          r"step_lr: decay_t must be > 0, got 0"),
    "multistep_unsorted": (lambda: timm.multistep_lr([30, 10], lr=0.1), ValueError,
                           r"decay_t must be sorted .*got \[30, 10\]"),
    "multistep_not_list": (lambda: timm.multistep_lr(30, lr=0.1), TypeError,
                           r"decay_t must be a list of milestones, got 30"),
    "wsd_decay_longer": (lambda: timm.wsd_lr(10, 20, lr=0.1), ValueError,
                         r"wsd_lr: decay_t must be in \[1, 10\], got 20"),
    "wsd_decay_fn_typo": (lambda: timm.wsd_lr(10, 5, decay_fn="1-sqr", lr=0.1), ValueError,
                          r"decay_fn must be one of .*got '1-sqr' \(did you mean '1-sqrt'\?\)"),
    "wsd_rsqrt_no_timescale": (lambda: timm.wsd_lr(10, 5, stable_fn="rsqrt", lr=0.1),
                               ValueError, r"needs stable_timescale > 0 .*warmup_t=0"),
    "wsd_ratio_one": (lambda: timm.wsd_lr(10, 5, decay_ratio=1.0, lr=0.1), ValueError,
                      r"decay_ratio must be in \(0, 1\), got 1.0"),
    "noise_pct_zero": (lambda: timm.cosine_lr(10, noise_range_t=3, noise_pct=0.0, lr=0.1),
                       ValueError, r"noise_pct must be > 0 with noise on.*forever"),
    "noise_rarely_accepted": (lambda: timm.cosine_lr(10, noise_range_t=3, noise_pct=0.01,
                                                     lr=0.1), ValueError,
                              r"noise_pct=0.01 with noise_std=1.0 accepts .* 312 draws"),
    "noise_range_one_element": (lambda: timm.cosine_lr(10, noise_range_t=[3], lr=0.1),
                                ValueError, r"noise_range_t must be a start or a \[start, "
                                            r"end\) pair, got \[3\]"),
    "step_zero_typo": (lambda: timm.cosine_lr(10, lr=0.1, step_zero="construct"), ValueError,
                       r"step_zero must be one of .*got 'construct'"),
    "adapter_unknown_argument": (lambda: timm.CosineLRScheduler(0.1, t_inital=10), TypeError,
                                 r"CosineLRScheduler: unknown argument 't_inital' \(did you "
                                 r"mean 't_initial'\?\)"),
    "adapter_too_many_positional": (lambda: timm.StepLRScheduler(0.1, *range(1, 7)),
                                    TypeError, r"StepLRScheduler: takes at most 5 positional"),
    "adapter_initialize_false": (lambda: timm.CosineLRScheduler([{"lr": 0.1}], 10,
                                                                initialize=False), ValueError,
                                 r"initialize=False needs 'initial_lr' .*KeyError"),
    "adapter_group_lr_scale": (lambda: timm.CosineLRScheduler([{"lr": 0.1, "lr_scale": -1}],
                                                              10), ValueError,
                               r"param group 0 lr_scale must be >= 0, got -1"),
    "adapter_step_negative": (lambda: timm.CosineLRScheduler(0.1, 10).step(-1), ValueError,
                              r"CosineLRScheduler.step: epoch must be in \[0, .*got -1"),
    "adapter_metric_string": (lambda: timm.CosineLRScheduler(0.1, 10).step_update(3, "x"),
                              TypeError, r"step_update: metric must be a real number"),
    "create_unknown_sched": (lambda: timm.create_scheduler_v2(0.1, "cosin"), ValueError,
                             r"sched must be one of .*got 'cosin' \(did you mean 'cosine'\?\)"),
    "create_unknown_argument": (lambda: timm.create_scheduler_v2(0.1, num_epoch=3), TypeError,
                                r"unknown argument 'num_epoch' \(did you mean 'num_epochs'"),
    "create_updates_missing": (lambda: timm.create_scheduler_v2(0.1, step_on_epochs=False),
                               ValueError, r"updates_per_epoch must be in \[1, .*got 0"),
    "create_wsd_decay_too_long": (lambda: timm.create_scheduler_v2(
        0.1, "wsd", num_epochs=10, warmup_epochs=5, decay_epochs=8), ValueError,
        r"wsd needs 0 < decay_epochs <= epochs - warmup_epochs \(timm raises\)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_eagerly(name):
    make, error, match = CASES[name]
    with pytest.raises(error, match=match):
        make()


BAD_STATES = {
    "not_a_dict": ([1, 2], TypeError, r"state_dict must be a dict"),
    "missing_key": ({"t_initial": 10}, ValueError, r"must have exactly the keys"),
    "wrong_field": ({"param_group_field": "momentum"}, ValueError,
                    r"param_group_field must be 'lr', got 'momentum'"),
    "t_initial_zero": ({"t_initial": 0}, ValueError, r"t_initial must be in \[1"),
    "base_values_short": ({"base_values": []}, ValueError, r"base_values must be a list of 1"),
    "warmup_steps_inconsistent": ({"warmup_steps": [0.5]}, ValueError,
                                  r"warmup_steps \[0.5\] do not follow"),
    "t_in_epochs_string": ({"t_in_epochs": "False"}, TypeError,
                           r"t_in_epochs must be a bool, got 'False'"),
}


@pytest.mark.parametrize("name", sorted(BAD_STATES))
def test_bad_state_dict_raises_and_changes_nothing(name):
    s = timm.CosineLRScheduler(0.1, 10, warmup_t=2, warmup_lr_init=0.01)
    s.step_update(5)
    s.step(3)
    before = (copy.deepcopy(s.state_dict()), s.get_last_lr(), s.param_groups)
    change, error, match = BAD_STATES[name]
    state = change if not isinstance(change, dict) or name == "missing_key" else dict(
        s.state_dict(), **change)
    with pytest.raises(error, match=match):
        s.load_state_dict(state)
    assert (s.state_dict(), s.get_last_lr(), s.param_groups) == before
