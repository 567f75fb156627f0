"""transformers 5.23.0 configurations that jaxsched once refused and transformers accepts
and steps through with finite values: each is compared live, three ways (ours in float64
and float32 and the adapter, transformers, the exact value of its formula)."""

from __future__ import annotations

import json
import warnings

import pytest

import jaxsched
from jaxsched.tools import parity

from helpers import require

FAR = [10**6, 123_456_789, 2**31 - 1]


def _steps(t: int) -> list[int]:
    near = list(range(0, 40)) + list(range(0, t + 60, max(1, t // 97)))
    return sorted({*near, *range(max(0, t - 5), t + 5), *FAR})


# (id, transformers name, kwargs, lrs)
ACCEPTED = [
    ("restarts_float_cycles", "cosine_with_restarts",
     dict(num_warmup_steps=100, num_training_steps=10_000,
          scheduler_specific_kwargs=dict(num_cycles=1.5)), [0.1]),
    ("restarts_irrational_cycles", "cosine_with_restarts",
     dict(num_warmup_steps=50, num_training_steps=4_000,
          scheduler_specific_kwargs=dict(num_cycles=2.3)), [0.1, 0.02]),
    ("restarts_negative_cycles", "cosine_with_restarts",
     dict(num_warmup_steps=0, num_training_steps=3_000,
          scheduler_specific_kwargs=dict(num_cycles=-1.25)), [0.1]),
    ("restarts_zero_cycles", "cosine_with_restarts",
     dict(num_warmup_steps=10, num_training_steps=300,
          scheduler_specific_kwargs=dict(num_cycles=0)), [0.1]),
    ("min_lr_rate_above_one", "cosine_with_min_lr",
     dict(num_warmup_steps=200, num_training_steps=20_000,
          scheduler_specific_kwargs=dict(min_lr_rate=1.5)), [3e-4]),
    ("min_lr_rate_negative", "cosine_with_min_lr",
     dict(num_warmup_steps=200, num_training_steps=20_000,
          scheduler_specific_kwargs=dict(min_lr_rate=-0.1)), [3e-4]),
    ("min_lr_above_lr", "cosine_with_min_lr",
     dict(num_warmup_steps=20, num_training_steps=5_000,
          scheduler_specific_kwargs=dict(min_lr=0.2)), [0.1]),
    ("warmup_rate_min_lr_rate_above_one", "cosine_warmup_with_min_lr",
     dict(num_warmup_steps=100, num_training_steps=8_000,
          scheduler_specific_kwargs=dict(min_lr_rate=2.0, warmup_lr_rate=1.5)), [0.01]),
    ("cosine_negative_cycles", "cosine",
     dict(num_warmup_steps=10, num_training_steps=2_000,
          scheduler_specific_kwargs=dict(num_cycles=-0.75)), [0.1]),
    ("linear_warmup_past_training", "linear",
     dict(num_warmup_steps=500, num_training_steps=300), [0.1]),
    ("cosine_warmup_past_training", "cosine",
     dict(num_warmup_steps=500, num_training_steps=300), [0.1]),
    ("polynomial_warmup_past_training", "polynomial",
     dict(num_warmup_steps=500, num_training_steps=300,
          scheduler_specific_kwargs=dict(lr_end=1e-4, power=2.0)), [0.1]),
    ("polynomial_negative_end", "polynomial",
     dict(num_warmup_steps=50, num_training_steps=3_000,
          scheduler_specific_kwargs=dict(lr_end=-0.01, power=0.5)), [0.1]),
    ("wsd_min_lr_ratio_above_one", "warmup_stable_decay",
     dict(num_warmup_steps=100, num_training_steps=10_000,
          scheduler_specific_kwargs=dict(num_decay_steps=2_000, min_lr_ratio=1.25)), [0.1]),
    ("wsd_decay_longer_than_training", "warmup_stable_decay",
     dict(num_warmup_steps=100, num_training_steps=1_000,
          scheduler_specific_kwargs=dict(num_decay_steps=1_500, decay_type="linear")), [0.1]),
    ("wsd_stable_and_training_disagree", "warmup_stable_decay",
     dict(num_warmup_steps=100, num_training_steps=5_000,
          scheduler_specific_kwargs=dict(num_decay_steps=500, num_stable_steps=1_000)),
     [0.1]),
    # negative step counts: a negative warmup never holds k < W (the decay starts part way
    # through), a negative training length leaves the floor (or the cosine's value there)
    ("linear_negative_warmup", "linear", dict(num_warmup_steps=-50, num_training_steps=2_000),
     [0.1]),
    ("linear_negative_training", "linear", dict(num_warmup_steps=20, num_training_steps=-30),
     [0.1]),
    ("constant_with_warmup_negative", "constant_with_warmup", dict(num_warmup_steps=-5),
     [0.1]),
    ("cosine_negative_warmup", "cosine", dict(num_warmup_steps=-100, num_training_steps=5_000),
     [0.1, 0.03]),
    ("cosine_negative_both", "cosine", dict(num_warmup_steps=-3, num_training_steps=-5),
     [0.1]),
    ("cosine_negative_warmup_irrational_cycles", "cosine",
     dict(num_warmup_steps=-7, num_training_steps=900,
          scheduler_specific_kwargs=dict(num_cycles=0.3)), [0.1]),
    ("restarts_negative_warmup", "cosine_with_restarts",
     dict(num_warmup_steps=-200, num_training_steps=3_000,
          scheduler_specific_kwargs=dict(num_cycles=3)), [0.1]),
    ("restarts_negative_both", "cosine_with_restarts",
     dict(num_warmup_steps=-3, num_training_steps=-5), [0.1]),
    ("polynomial_negative_warmup", "polynomial",
     dict(num_warmup_steps=-40, num_training_steps=1_000,
          scheduler_specific_kwargs=dict(lr_end=1e-4, power=2.0)), [0.1]),
    ("polynomial_negative_training", "polynomial",
     dict(num_warmup_steps=-3, num_training_steps=-20), [0.1]),
    ("min_lr_negative_warmup", "cosine_with_min_lr",
     dict(num_warmup_steps=-60, num_training_steps=4_000,
          scheduler_specific_kwargs=dict(min_lr_rate=0.1)), [3e-4]),
    ("warmup_rate_negative_warmup", "cosine_warmup_with_min_lr",
     dict(num_warmup_steps=-3, num_training_steps=1_000,
          scheduler_specific_kwargs=dict(min_lr_rate=0.1)), [0.01]),
    ("warmup_rate_negative_both", "cosine_warmup_with_min_lr",
     dict(num_warmup_steps=-3, num_training_steps=-10,
          scheduler_specific_kwargs=dict(min_lr_rate=0.1)), [0.01]),
    ("wsd_negative_warmup", "warmup_stable_decay",
     dict(num_warmup_steps=-100, num_training_steps=2_000,
          scheduler_specific_kwargs=dict(num_decay_steps=500)), [0.1]),
    ("wsd_negative_training", "warmup_stable_decay",
     dict(num_warmup_steps=30, num_training_steps=-100,
          scheduler_specific_kwargs=dict(num_decay_steps=50, decay_type="1-sqrt")), [0.1]),
    ("wsd_negative_warmup_given_stable", "warmup_stable_decay",
     dict(num_warmup_steps=-300, scheduler_specific_kwargs=dict(
         num_decay_steps=400, num_stable_steps=100, warmup_type="cosine")), [0.1]),
    ("inverse_sqrt_negative_warmup", "inverse_sqrt",
     dict(num_warmup_steps=-30, scheduler_specific_kwargs=dict(timescale=100)), [0.1]),
    ("inverse_sqrt_fractional_timescale", "inverse_sqrt",
     dict(num_warmup_steps=10, scheduler_specific_kwargs=dict(timescale=2.5)), [0.1]),
    ("inverse_sqrt_timescale_below_one", "inverse_sqrt",
     dict(num_warmup_steps=0, scheduler_specific_kwargs=dict(timescale=0.3)), [0.1]),
    ("inverse_sqrt_negative_warmup_fractional", "inverse_sqrt",
     dict(num_warmup_steps=-4, scheduler_specific_kwargs=dict(timescale=1234.567)), [0.1]),
]


def _case(name: str, hf: str, kwargs: dict, lrs: list[float]) -> dict:
    generate = pytest.importorskip("generate_huggingface")
    t = kwargs.get("num_training_steps") or 1000
    case = {"name": name, "class": "LambdaLR", "hf": hf, "kwargs": kwargs,
            "optimizer": "SGD", "steps": _steps(max(t, kwargs.get("num_warmup_steps", 0)))}
    case["groups"] = generate.torch_groups("SGD", lrs, [0.9] * len(lrs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.update(generate.record(json.loads(json.dumps(case))))
    return case


@pytest.mark.parametrize("name,hf,kwargs,lrs", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_configuration_matches_transformers(name, hf, kwargs, lrs):
    require("transformers")
    case = _case(name, hf, kwargs, lrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the one documented warning
        errors = parity.case_errors(case)
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad


def test_stable_and_training_steps_that_disagree_warn_once_as_transformers_does():
    with pytest.warns(UserWarning, match="num_stable_steps is used") as record:
        jaxsched.get_scheduler("warmup_stable_decay", 0.1, num_warmup_steps=2,
                               num_training_steps=20, scheduler_specific_kwargs=dict(
                                   num_decay_steps=3, num_stable_steps=5))
    assert len(record) == 1


@pytest.mark.parametrize("name", ["constant", "constant_with_warmup"])
def test_kwargs_transformers_ignores_are_ignored_with_a_warning(name):
    transformers = require("transformers")
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = transformers.get_scheduler(name, opt, num_warmup_steps=5,
                                     scheduler_specific_kwargs={"num_cycles": 3})
    with pytest.warns(UserWarning, match=r"\['num_cycles'\] are ignored") as record:
        ours = jaxsched.get_scheduler(name, [{"lr": 0.1}], num_warmup_steps=5,
                                      scheduler_specific_kwargs={"num_cycles": 3})
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(8):
            opt.step()
            ref.step()
            ours.step()
            assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-15)
