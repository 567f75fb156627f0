"""Bad input to the torch ports: torch's own errors, raised eagerly with the function, the
argument and the value, plus the cases torch misses; adapters keep their state on bad loads."""

from __future__ import annotations

import math

import pytest

import jaxsched

NAN, INF = math.nan, math.inf

BAD = [
    ("step_lr", dict(step_size=0, lr=0.1), ValueError, r"step_size must be in \[1, .*got 0"),
    ("step_lr", dict(step_size=2, gamma=NAN, lr=0.1), ValueError, r"gamma must be finite"),
    ("multi_step_lr", dict(milestones=[3, -1], lr=0.1), ValueError,
     r"milestones\[i\] must be in \[0, .*got -1"),
    ("multi_step_lr", dict(milestones=5, lr=0.1), TypeError,
     r"milestones must be a sequence of integers, got 5"),
    ("constant_lr", dict(factor=0.0, lr=0.1), ValueError,
     r"factor must be in \(0, 1\] \(torch divides by it at total_iters\), got 0.0"),
    ("constant_lr", dict(factor=1.5, lr=0.1), ValueError, r"factor must be in \[0, 1\], got 1.5"),
    ("constant_lr", dict(total_iters=0, lr=0.1), ValueError, r"total_iters must be in \[1"),
    ("linear_lr", dict(start_factor=0.0, lr=0.1), ValueError, r"start_factor must be in \(0, 1\]"),
    ("linear_lr", dict(end_factor=1.2, lr=0.1), ValueError, r"end_factor must be in \[0, 1\]"),
    ("exponential_lr", dict(gamma=-INF, lr=0.1), ValueError,
     r"gamma must be finite, got -inf"),
    ("polynomial_lr", dict(power=-1.0, lr=0.1), ValueError, r"power must be >= 0, got -1.0"),
    ("cosine_annealing_lr", dict(T_max=0, lr=0.1), ValueError, r"T_max must be in \[1"),
    ("cosine_annealing_lr", dict(T_max=5, eta_min=INF, lr=0.1), ValueError,
     r"eta_min must be finite, got inf"),
    ("cosine_annealing_warm_restarts", dict(T_0=0, lr=0.1), ValueError, r"T_0 must be in \[1"),
    ("cosine_annealing_warm_restarts", dict(T_0=5, T_mult=0, lr=0.1), ValueError,
     r"T_mult must be in \[1"),
    ("cosine_annealing_warm_restarts", dict(T_0=5, T_mult=1.5, lr=0.1), TypeError,
     r"T_mult must be an integer, got 1.5"),
    ("cyclic_lr", dict(base_lr=0.01, max_lr=0.1, mode="sawtooth"), ValueError,
     r"mode must be one of \('triangular', 'triangular2', 'exp_range'\), got 'sawtooth'"),
    ("cyclic_lr", dict(base_lr=0.01, max_lr=0.1, step_size_up=0), ValueError,
     r"step_size_up must be in \[1"),
    ("cyclic_lr", dict(base_lr=0.01, max_lr=0.1, scale_fn=lambda x: 1.0,
                       scale_mode="epochs"), ValueError, r"scale_mode must be one of"),
    ("cyclic_lr", dict(base_lr=0.01, max_lr=0.1, scale_fn=lambda x: math.exp(-x)), TypeError,
     r"scale_fn must be a jnp-traceable function"),
    ("one_cycle_lr", dict(max_lr=0.1), ValueError,
     r"you must define either total_steps OR \(epochs AND steps_per_epoch\)"),
    ("one_cycle_lr", dict(max_lr=0.1, epochs=3), ValueError, r"you must define either "
     r"total_steps OR .*epochs=3, steps_per_epoch=None"),
    ("one_cycle_lr", dict(max_lr=0.1, total_steps=0), ValueError, r"total_steps must be in \[1"),
    ("one_cycle_lr", dict(max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     r"anneal_strategy must be one of \('cos', 'linear'\), got 'exp'"),
    ("one_cycle_lr", dict(max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     r"pct_start must be in \[0, 1\], got 1.5"),
    ("one_cycle_lr", dict(max_lr=0.1, total_steps=10, pct_start=0.1), ValueError,
     r"pct_start \* total_steps must not be 1"),
    ("one_cycle_lr", dict(max_lr=0.1, total_steps=10, div_factor=0.0), ValueError,
     r"div_factor must be nonzero \(torch divides by it\), got 0.0"),
    ("one_cycle_lr", dict(max_lr=0.1, total_steps=10, max_momentum="0.9"), TypeError,
     r"max_momentum must be a real number, got '0.9'"),
    ("cyclic_lr", dict(base_lr=0.01, max_lr=0.1, base_momentum=True), TypeError,
     r"base_momentum must be a real number, got True"),
    ("exponential_lr", dict(gamma="1.01", lr=0.1), TypeError,
     r"gamma must be a real number, got '1.01'"),
    ("lambda_lr", dict(lr_lambda=3, lr=0.1), TypeError, r"lr_lambda must be callable, got 3"),
    ("lambda_lr", dict(lr_lambda=lambda e: 1.0 if e < 3 else 0.1, lr=0.1), TypeError,
     r"lr_lambda must be a jnp-traceable function of the step"),
    ("lambda_lr", dict(lr_lambda=lambda e: [e, e], lr=0.1), TypeError,
     r"lr_lambda must return a scalar"),
    ("multiplicative_lr", dict(lr_lambda=lambda e: math.sqrt(e), lr=0.1), TypeError,
     r"lr_lambda must be a jnp-traceable function .*ConcretizationTypeError"),
]


@pytest.mark.parametrize(("factory", "kwargs", "exc", "match"), BAD,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_factory_rejects(factory, kwargs, exc, match):
    with pytest.raises(exc, match=rf"jaxsched.{factory}: " + match):
        getattr(jaxsched, factory)(**kwargs)


def test_composites_reject_bad_milestones_and_children():
    a = jaxsched.exponential_lr(0.9, lr=0.1)
    b = jaxsched.step_lr(2, lr=0.1)
    with pytest.raises(ValueError, match=r"jaxsched.sequential_lr: milestones must be strictly "
                                         r"increasing, got \[5, 3\]"):
        jaxsched.sequential_lr([a, b, a], [5, 3])
    with pytest.raises(ValueError, match=r"expected 1 milestones \(one fewer than schedules\)"):
        jaxsched.sequential_lr([a, b], [])
    with pytest.raises(ValueError, match=r"milestones\[0\] must be in \[0"):
        jaxsched.sequential_lr([a, b], [-2])
    with pytest.raises(ValueError, match=r"every schedule must be built on the same optimizer"):
        jaxsched.sequential_lr([a, jaxsched.step_lr(2, lr=0.5)], [3])
    with pytest.raises(ValueError, match=r"jaxsched.chained_scheduler: schedules\[1\] "
                                         r"\(jaxsched.cosine_annealing_lr\) does not scale"):
        jaxsched.chained_scheduler([a, jaxsched.cosine_annealing_lr(5, lr=0.1)])
    with pytest.raises(ValueError, match=r"non-empty sequence"):
        jaxsched.chained_scheduler([])


def test_adapters_reject_plateau_and_nested_children():
    plateau = jaxsched.ReduceLROnPlateau(0.1)
    step = jaxsched.StepLR(0.1, 2)
    with pytest.raises(ValueError, match=r"jaxsched.SequentialLR: SequentialLR does not "
                                         r"support `ReduceLROnPlateau` scheduler"):
        jaxsched.SequentialLR(0.1, [step, plateau], [3])
    seq = jaxsched.SequentialLR(0.1, [step, jaxsched.ExponentialLR(0.1, 0.9)], [3])
    with pytest.raises(TypeError, match=r"jaxsched.ChainedScheduler: schedulers\[0\] must be"):
        jaxsched.ChainedScheduler([seq])


def test_one_cycle_adapter_raises_past_total_steps_and_keeps_count():
    sched = jaxsched.OneCycleLR(0.1, max_lr=1.0, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match=r"Tried to step 4 times. The specified number of "
                                         r"total steps is 3"):
        sched.step()
    assert sched.last_epoch == 3


def test_resume_constructor_needs_initial_lr():
    with pytest.raises(ValueError, match=r"jaxsched.StepLR: resuming with last_epoch=4 needs "
                                         r"'initial_lr'"):
        jaxsched.StepLR([{"lr": 0.1}], 2, last_epoch=4)
    sched = jaxsched.StepLR([{"lr": 0.05, "initial_lr": 0.1}], 2, gamma=0.5, last_epoch=4)
    assert sched.last_epoch == 5 and sched.get_last_lr() == [0.025]


def test_step_with_epoch_warns_like_torch():
    sched = jaxsched.ExponentialLR(1.0, 0.5)
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(3)
    assert sched.get_last_lr() == [0.125]


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda sd: sd.pop("gamma"), r"state_dict is not a StepLR's: expected keys"),
    (lambda sd: sd.update(gamma="0.3"), r"the state_dict's settings are not valid: .*gamma "
                                        r"must be a real number, got '0.3'"),
    (lambda sd: sd.update(gamma=math.nan), r"the state_dict's settings are not valid: .*gamma "
                                           r"must be finite"),
    (lambda sd: sd.update(base_lrs=[0.2, 0.1]), r"base_lrs must be a list of 1 lrs"),
    (lambda sd: sd.update(base_lrs="0.2"), r"base_lrs must be a list of 1 lrs"),
    (lambda sd: sd.update(_last_lr="0.2"), r"_last_lr must be a list of 1 lrs"),
    (lambda sd: sd.update(_last_lr=[math.nan]), r"_last_lr\[0\] must be finite"),
    (lambda sd: sd.update(_step_count="3"), r"_step_count must be an integer"),
    (lambda sd: sd.update(_is_initial="no"), r"_is_initial must be a bool, got 'no'"),
    (lambda sd: sd.update(last_epoch=2**63), r"last_epoch must be in \[0, 9223372036854775807\]"),
    (lambda sd: sd.update(last_epoch=-3), r"last_epoch must be in \[0"),
    (lambda sd: sd.update(last_epoch="7"), r"last_epoch must be an integer"),
], ids=["missing-key", "gamma-string", "gamma-nan", "base-length", "base-string",
        "last-lr-string", "last-lr-nan", "step-count-string", "is-initial-string",
        "past-int64", "negative", "string"])
def test_load_state_dict_rejects_and_keeps_state(mutate, match):
    sched = jaxsched.StepLR(0.1, step_size=2, gamma=0.5)
    for _ in range(5):
        sched.step()
    before = (sched.state_dict(), sched.param_groups)
    bad = sched.state_dict()
    mutate(bad)
    with pytest.raises((ValueError, TypeError),
                       match=r"jaxsched.StepLR.load_state_dict: " + match):
        sched.load_state_dict(bad)
    assert (sched.state_dict(), sched.param_groups) == before


def test_deepspeed_state_dict_into_torch_adapter_is_rejected():
    sched = jaxsched.StepLR(0.1, step_size=2)
    with pytest.raises(ValueError, match=r"is not a StepLR's"):
        sched.load_state_dict({"last_batch_iteration": 4})
    assert sched.last_epoch == 0
