"""transformers 5.23.0 schedulers: the stored curves (pure float64/float32 and the adapter),
random configurations against the live library, and eager validation."""

from __future__ import annotations

import json
import warnings

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jaxsched
from jaxsched.tools import parity
from jaxsched.transformers import schedules as huggingface

from helpers import require

CASES = parity.load_cases("huggingface")


def test_fixtures_cover_every_scheduler_type_but_the_metric_driven():
    """ReduceLROnPlateau is torch's own class, covered by the torch fixtures; GreedyLR is
    tested live in test_greedy.py."""
    assert {c["hf"] for c in CASES} == set(huggingface.SCHEDULER_TYPES) - {
        "reduce_lr_on_plateau", "greedy"}
    assert any(len(c["groups"]) == 2 for c in CASES)
    assert max(max(c["steps"]) for c in CASES) == 2**31 - 1


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_matches_transformers(case):
    errors = parity.case_errors(case)
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


def test_scheduler_types_are_transformers_own():
    transformers = require("transformers")
    assert transformers.__version__ == "5.23.0"
    theirs = {s.value for s in transformers.SchedulerType}
    assert set(huggingface.SCHEDULER_TYPES) == theirs


def test_cosine_rises_again_after_training_like_transformers():
    s = jaxsched.get_scheduler("cosine", 1.0, num_warmup_steps=0, num_training_steps=10)
    assert float(s(10)) == 0.0
    assert float(s(15)) == pytest.approx(0.5)
    assert float(s(20)) == pytest.approx(1.0)


def test_restart_boundary_is_decided_as_transformers_rounds_it():
    """At a restart, (cycles * progress) % 1.0 lands on 0 or one ulp below 1 depending on
    rounding, so the factor there is 1 or ~0: both float64 and float32 give transformers'."""
    case = next(c for c in CASES if c["name"] == "cosine_restarts_exact")
    steps = np.asarray(case["steps"])
    ref = np.asarray(case["lr"][0])
    for x64 in (True, False):
        ours = parity.pure_curves(case, x64=x64)["lr"][0]
        for k in (300, 600):
            i = int(np.flatnonzero(steps == k)[0])
            assert ours[i] == pytest.approx(ref[i], abs=1e-7), (x64, k)


def test_plateau_gives_the_transform_or_the_adapter():
    tx = jaxsched.get_scheduler("reduce_lr_on_plateau", 0.1,
                                scheduler_specific_kwargs=dict(patience=0))
    assert hasattr(tx, "update")
    adapter = jaxsched.get_scheduler("reduce_lr_on_plateau", [0.1],
                                     scheduler_specific_kwargs=dict(patience=0))
    adapter.step(1.0)
    adapter.step(1.0)
    assert adapter.get_last_lr() == [pytest.approx(0.01)]


def test_adapter_for_param_groups_is_a_lambda_lr():
    sched = jaxsched.get_scheduler("linear", [{"lr": 0.1}, {"lr": 0.2}], num_warmup_steps=1,
                                   num_training_steps=3)
    assert isinstance(sched, jaxsched.LambdaLR)
    sched.step()
    assert sched.get_last_lr() == [pytest.approx(0.1), pytest.approx(0.2)]


def test_one_trace_for_every_type():
    for name in sorted(set(huggingface.SCHEDULER_TYPES) - {"reduce_lr_on_plateau", "greedy"}):
        extra = {"cosine_with_min_lr": dict(min_lr_rate=0.1),
                 "cosine_warmup_with_min_lr": dict(min_lr_rate=0.1),
                 "warmup_stable_decay": dict(num_decay_steps=3)}.get(name)
        s = jaxsched.get_scheduler(name, 0.1, num_warmup_steps=2, num_training_steps=10,
                                   scheduler_specific_kwargs=extra)
        traces = []
        f = jax.jit(lambda k, s=s, t=traces: (t.append(1), s(k))[1])
        for k in range(20):
            f(k)
        assert len(traces) == 1, name


BAD = [
    ("unknown_name", dict(name="cosine_with_warmup"), ValueError, "name must be one of"),
    ("missing_warmup", dict(name="linear", num_training_steps=10), ValueError,
     "requires num_warmup_steps"),
    ("missing_training", dict(name="cosine", num_warmup_steps=1), ValueError,
     "requires num_training_steps"),
    ("inverse_sqrt_negative_warmup_default_timescale",
     dict(name="inverse_sqrt", num_warmup_steps=-1), ValueError,
     r"timescale defaults to num_warmup_steps \(-1\), which must then be > 0"),
    ("inverse_sqrt_negative_timescale",
     dict(name="inverse_sqrt", num_warmup_steps=3,
          scheduler_specific_kwargs=dict(timescale=-2.5)), ValueError,
     r"timescale must be > 0 .*got -2.5"),
    ("inverse_sqrt_zero_timescale",
     dict(name="inverse_sqrt", num_warmup_steps=3, scheduler_specific_kwargs=dict(timescale=0)),
     ValueError, r"timescale must be > 0 .*got 0"),
    ("inverse_sqrt_str_timescale",
     dict(name="inverse_sqrt", num_warmup_steps=3,
          scheduler_specific_kwargs=dict(timescale="7")), TypeError,
     r"timescale must be a real number, got '7'"),
    ("span_past_count_range", dict(name="linear", num_warmup_steps=-10,
                                   num_training_steps=2**53 - 1), ValueError,
     r"num_training_steps - num_warmup_steps .* must be at most 9007199254740991"),
    ("warmup_below_count_range", dict(name="linear", num_warmup_steps=-2**31,
                                      num_training_steps=5), ValueError,
     r"num_warmup_steps must be in \[-2147483647"),
    ("float_warmup", dict(name="linear", num_warmup_steps=1.5, num_training_steps=5),
     TypeError, "num_warmup_steps must be an integer"),
    ("unknown_kwarg", dict(name="linear", num_warmup_steps=1, num_training_steps=5,
                           scheduler_specific_kwargs=dict(num_cycles=2)), TypeError,
     r"unknown scheduler_specific_kwargs for 'linear': \['num_cycles'\]"),
    ("poly_end_above_lr", dict(name="polynomial", num_warmup_steps=1, num_training_steps=5,
                               scheduler_specific_kwargs=dict(lr_end=0.5)), ValueError,
     r"lr_end \(0.5\) must be smaller than initial lr \(0.1\)"),
    ("poly_zero_decay", dict(name="polynomial", num_warmup_steps=5, num_training_steps=5),
     ValueError, r"polynomial needs num_training_steps \(5\) != num_warmup_steps"),
    ("poly_negative_power", dict(name="polynomial", num_warmup_steps=1, num_training_steps=5,
                                 scheduler_specific_kwargs=dict(power=-1.0)), ValueError,
     "power must be >= 0"),
    ("min_lr_both", dict(name="cosine_with_min_lr", num_warmup_steps=1, num_training_steps=5,
                         scheduler_specific_kwargs=dict(min_lr=0.0, min_lr_rate=0.1)),
     ValueError, "only one of min_lr or min_lr_rate"),
    ("min_lr_neither", dict(name="cosine_warmup_with_min_lr", num_warmup_steps=1,
                            num_training_steps=5), ValueError,
     "one of min_lr or min_lr_rate must be set"),
    ("wsd_no_length", dict(name="warmup_stable_decay", num_warmup_steps=1,
                           scheduler_specific_kwargs=dict(num_decay_steps=2)), ValueError,
     "requires num_training_steps or num_stable_steps"),
    ("wsd_bad_type", dict(name="warmup_stable_decay", num_warmup_steps=1, num_training_steps=9,
                          scheduler_specific_kwargs=dict(num_decay_steps=2,
                                                         decay_type="exponential")),
     ValueError, "decay_type must be one of"),
    ("bool_lr", dict(name="constant", optimizer=True), TypeError, "optimizer must be"),
    ("str_cycles", dict(name="cosine_with_restarts", num_warmup_steps=1, num_training_steps=9,
                        scheduler_specific_kwargs=dict(num_cycles="2")), TypeError,
     "num_cycles must be a real number, got '2'"),
    ("bool_min_lr_rate", dict(name="cosine_with_min_lr", num_warmup_steps=1,
                              num_training_steps=9,
                              scheduler_specific_kwargs=dict(min_lr_rate=True)), TypeError,
     "min_lr_rate must be a real number, got True"),
    ("min_lr_zero_lr", dict(name="cosine_with_min_lr", optimizer=0.0, num_warmup_steps=1,
                            num_training_steps=9, scheduler_specific_kwargs=dict(min_lr=0.0)),
     ValueError, r"min_lr \(0.0\) is divided by the lr, which must be > 0"),
]


@pytest.mark.parametrize("args,error,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments_raise_eagerly(args, error, match):
    args = dict(args)
    optimizer = args.pop("optimizer", 0.1)
    with pytest.raises(error, match=f"jaxsched.get_scheduler: .*{match}"):
        jaxsched.get_scheduler(args.pop("name"), optimizer, **args)


def test_groups_with_different_lrs_have_no_default_lr():
    with pytest.raises(ValueError, match="param groups with different lrs"):
        jaxsched.get_scheduler("polynomial", [0.1, 0.2], num_warmup_steps=1,
                               num_training_steps=5)


# Live: random configurations of every type against transformers itself.


def _random_case(draw):
    name = draw(st.sampled_from(sorted(set(huggingface.SCHEDULER_TYPES)
                                       - {"reduce_lr_on_plateau", "greedy"})))
    w = draw(st.integers(-30, 30))  # transformers steps through a negative warmup too
    t = w + draw(st.integers(1, 200))
    kwargs = dict(num_warmup_steps=w, num_training_steps=t)
    extra: dict = {}
    if name in ("cosine", "cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        extra["num_cycles"] = draw(st.sampled_from([0.5, 1.0, 0.25, 1.3, 2.0, 3.7]))
    if name == "cosine_with_restarts":
        extra["num_cycles"] = draw(st.integers(1, 8))
    if name == "polynomial":
        extra.update(power=draw(st.floats(0.0, 3.0)), lr_end=draw(st.floats(0.0, 1e-3)))
    if name == "inverse_sqrt":
        kwargs.pop("num_training_steps")
        if w < 0 or draw(st.booleans()):  # a negative warmup needs a positive timescale
            extra["timescale"] = draw(st.one_of(st.integers(1, 500), st.floats(0.05, 500.0)))
    if name == "constant_with_warmup":
        kwargs.pop("num_training_steps")
    if name == "constant":
        kwargs = {}
    if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        if draw(st.booleans()):
            extra["min_lr_rate"] = draw(st.floats(0.0, 0.5))
        else:
            extra["min_lr"] = draw(st.floats(0.0, 0.005))
    if name == "cosine_warmup_with_min_lr" and draw(st.booleans()):
        extra["warmup_lr_rate"] = draw(st.floats(0.0, 0.5))
    if name == "warmup_stable_decay":
        extra.update(num_decay_steps=draw(st.integers(0, t - w)),
                     warmup_type=draw(st.sampled_from(huggingface.WSD_TYPES)),
                     decay_type=draw(st.sampled_from(huggingface.WSD_TYPES)),
                     min_lr_ratio=draw(st.floats(0.0, 0.5)),
                     num_cycles=draw(st.sampled_from([0.5, 1.0])))
    if extra:
        kwargs["scheduler_specific_kwargs"] = extra
    optimizer = draw(st.sampled_from(["SGD", "Adam"]))
    lrs = [draw(st.floats(0.01, 1.0)) for _ in range(draw(st.integers(1, 2)))]
    far = draw(st.lists(st.integers(1000, 2**31 - 1), max_size=3))
    return {"name": "random", "class": "LambdaLR", "hf": name, "kwargs": kwargs,
            "optimizer": optimizer,
            "steps": sorted({*range(max(t, 0) + 40), *far}), "lrs": lrs}


@given(data=st.data())
def test_random_config_matches_transformers(data):
    require("transformers")
    generate = pytest.importorskip("generate_huggingface")
    case = _random_case(data.draw)
    lrs = case.pop("lrs")
    case["groups"] = generate.torch_groups(case["optimizer"], lrs, [0.9] * len(lrs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.update(generate.record(json.loads(json.dumps(case))))
        errors = parity.case_errors(case)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, (case["hf"], case["kwargs"], bad)
