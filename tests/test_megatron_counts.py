"""Megatron at frontier scale, live: a sample-counted run of 4.096e9 samples (``--train-iters
1000000 --global-batch-size 4096`` in samples) built by ``from_args``, the adapter against
megatron-core's own ``OptimizerParamScheduler`` stepped by 4096 per iteration around 2**31,
2**32 and the end of the decay near 4e9 samples, state dicts both ways; Python-int counts
to 2**63-1; the pure schedule past int32 in x64 (exact against the oracle) and its eager
refusal without x64."""

from __future__ import annotations

import logging
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched
from jaxsched import megatron as jm
from jaxsched.tools import oracle

from helpers import require

require("torch")
with warnings.catch_warnings():  # Transformer Engine / Apex absent: Megatron warns
    warnings.simplefilter("ignore")
    Ref = require("megatron.core.optimizer_param_scheduler").OptimizerParamScheduler
logging.getLogger("megatron").setLevel(logging.WARNING)

GBS = 4096
TRAIN = 1_000_000 * GBS  # 4.096e9 samples
ARGS = {
    "cosine": dict(lr=3e-4, min_lr=3e-5, train_samples=TRAIN, lr_warmup_samples=2000 * GBS,
                   lr_decay_style="cosine", start_weight_decay=0.01, end_weight_decay=0.1,
                   weight_decay_incr_style="linear"),
    "wsd": dict(lr=3e-4, min_lr=3e-5, train_samples=TRAIN, lr_warmup_fraction=0.001,
                lr_decay_style="WSD", lr_wsd_decay_samples=200_000 * GBS,
                lr_wsd_decay_style="minus_sqrt", start_weight_decay=0.01,
                end_weight_decay=0.1, weight_decay_incr_style="cosine"),
    "linear": dict(lr=1e-3, min_lr=0.0, train_samples=TRAIN, lr_decay_samples=TRAIN - 12_345,
                   lr_warmup_samples=2**31 + 1, lr_decay_style="linear", weight_decay=0.1),
}


class Optimizer:
    def __init__(self):
        self.param_groups = [{"lr": 0.0, "weight_decay": 0.0}]


def reference(kw):
    opt = Optimizer()
    return Ref(opt, **kw), opt


@pytest.mark.parametrize("name", sorted(ARGS))
def test_four_billion_samples_against_megatron(name):
    """Both schedulers jump to a count by Megatron's state dict (ours from Megatron's, a
    second Megatron from ours), then step by 4096 samples an iteration across 2**31, 2**32
    and the end of the decay: lr and weight decay agree at every iteration."""
    kw = jm.scheduler_kwargs(ARGS[name])
    assert kw["lr_decay_steps"] > 2**31
    for start in (2**31 - 40 * GBS - 7, 2**32 - 40 * GBS, kw["lr_decay_steps"] - 60 * GBS + 5,
                  kw["lr_warmup_steps"] - 40 * GBS):
        theirs, opt = reference(kw)
        theirs.step(int(start))
        ours = jm.from_args(ARGS[name])
        ours.load_state_dict(theirs.state_dict())
        assert ours.num_steps == theirs.num_steps == int(start)
        back, back_opt = reference(kw)
        back.load_state_dict(ours.state_dict())
        assert back.num_steps == ours.num_steps
        counts, got, want, wds = [], [], [], []
        for _ in range(80):
            lr, wd = opt.param_groups[0]["lr"], opt.param_groups[0]["weight_decay"]
            assert back_opt.param_groups[0]["lr"] == lr
            counts.append(ours.num_steps)
            got.append(ours.get_last_lr()[0])
            want.append(lr)
            wds.append((ours.get_last_wd()[0], wd))
            for s in (theirs, ours, back):
                s.step(GBS)
        # float64: within 1e-12 of the exact value, or no further from it than Megatron
        # (whose 1 - n / N cancels near the end of a decay to 0)
        exact = np.asarray([float(v) for v in oracle.exact_values(ours.schedule, counts)])
        err, ref_err = np.abs(np.asarray(got) - exact), np.abs(np.asarray(want) - exact)
        assert np.all(err <= np.maximum(1e-12 * np.abs(exact), ref_err)), (name, start)
        assert np.all(np.abs(np.asarray(got) - want) <= 1e-12 * np.abs(exact) + ref_err)
        for a, b in wds:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-17), (name, start)


def test_pure_schedule_past_int32_is_exact_in_x64_and_refused_without():
    """The jitted pure schedule of the 4e9-sample cosine run at 0, 2**31-1, 2**31, 2**32,
    the decay boundaries and 2**53-1: within 1e-12 of the exact oracle (x64). Without x64
    a count cannot pass 2**31-1: tracing the schedule raises, naming the limit and the way
    out, instead of wrapping."""
    kw = jm.scheduler_kwargs(ARGS["cosine"])
    s = jm.lr_schedule(kw["max_lr"], kw["min_lr"], kw["lr_warmup_steps"],
                       kw["lr_decay_steps"], "cosine")
    d, w = kw["lr_decay_steps"], kw["lr_warmup_steps"]
    ks = [0, 1, w - 1, w, w + 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, d - 1, d, d + 1,
          2**53 - 1]
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(jax.vmap(s))(jnp.asarray(ks, jnp.int64)))
    exact = np.asarray([float(v) for v in oracle.exact_values(s, ks)])
    np.testing.assert_allclose(ours, exact, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=r"lr_schedule: lr_decay_steps=4096000000 is past "
                       r"int32's 2\*\*31-1.*enable x64.*or count in a larger unit"):
        jax.jit(s)(5)
    w32 = jm.wd_schedule(0.01, 0.1, TRAIN, "linear")
    with pytest.raises(ValueError, match=r"wd_schedule: wd_incr_steps=4096000000 is past"):
        w32(5)


def test_python_int_counts_to_two_to_the_63():
    """The adapter counts with Python ints to 2**63-1, as Megatron does (its values there:
    min_lr, end_wd); one more sample raises instead of wrapping, and changes nothing."""
    kw = jm.scheduler_kwargs(ARGS["cosine"])
    ours = jm.from_args(ARGS["cosine"])
    ours.step(2**63 - 2)
    theirs, opt = reference(kw)
    theirs.load_state_dict(ours.state_dict())
    ours.step(1)
    theirs.step(1)
    assert ours.num_steps == theirs.num_steps == 2**63 - 1
    assert ours.get_last_lr() == [opt.param_groups[0]["lr"]] == [kw["min_lr"]]
    assert ours.get_last_wd()[0] == opt.param_groups[0]["weight_decay"]
    with pytest.raises(OverflowError, match=r"num_steps 9223372036854775807 \+ 1 exceeds "
                       r"2\*\*63-1"):
        ours.step(1)
    assert ours.num_steps == 2**63 - 1
    fresh = jm.from_args(ARGS["cosine"])
    fresh.load_state_dict(ours.state_dict())
    assert fresh.num_steps == 2**63 - 1
    with pytest.raises(ValueError, match=r"num_steps must be in \[0, 0\]"):
        fresh.load_state_dict(ours.state_dict())  # Megatron adds: past 2**63-1
    assert fresh.num_steps == 2**63 - 1


def test_from_args_refuses_counts_past_two_to_the_53():
    with pytest.raises(ValueError, match=r"scheduler_kwargs: train_samples must be in "
                       r"\[1, 9007199254740991\]"):
        jm.from_args(dict(ARGS["cosine"], train_samples=2**53))
    assert jaxsched.megatron.from_args(dict(ARGS["cosine"], train_samples=2**53 - 1))
