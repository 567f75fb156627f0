"""Megatron-LM training arguments to an ``OptimizerParamScheduler``: the keywords Megatron-LM's
``get_optimizer_param_scheduler`` derives (its training code is not in the megatron-core
wheel, so the derivation is checked against its documented arithmetic), then the real
megatron-core scheduler and ours, built from the same keywords and stepped by the global
batch size as Megatron's train loop steps it, give the same lr and weight decay; fractional
warmups (``lr_warmup_fraction``) included; validate_args' refusals."""

from __future__ import annotations

import argparse
import copy
import warnings

import numpy as np
import pytest

from jaxsched import megatron as jm

from helpers import require

require("torch")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    Ref = require("megatron.core.optimizer_param_scheduler").OptimizerParamScheduler


class Optimizer:
    def __init__(self, groups):
        self.param_groups = groups


RUNS = {
    "iters_fraction_cosine": dict(lr=3e-4, min_lr=3e-5, train_iters=1237, global_batch_size=96,
                                  lr_warmup_fraction=0.013, lr_decay_style="cosine",
                                  weight_decay=0.1),
    "iters_decay_iters_wsd": dict(lr=1e-3, min_lr=0.0, train_iters=500, lr_decay_iters=450,
                                  lr_warmup_iters=20, global_batch_size=32,
                                  lr_decay_style="WSD", lr_wsd_decay_iters=90,
                                  lr_wsd_decay_style="minus_sqrt",
                                  weight_decay_incr_style="cosine", start_weight_decay=0.01,
                                  end_weight_decay=0.1),
    "iters_micro_batches": dict(lr=2e-4, train_iters=300, micro_batch_size=4,
                                data_parallel_size=8, lr_warmup_iters=10,
                                lr_decay_style="inverse-square-root", lr_warmup_init=1e-6),
    "samples_fraction_linear": dict(lr=6e-4, min_lr=6e-5, train_samples=1_000_003,
                                    lr_warmup_fraction=0.0071, lr_decay_samples=900_001,
                                    weight_decay_incr_style="linear",
                                    start_weight_decay=0.0, end_weight_decay=0.05),
    "samples_wsd_exponential": dict(lr=1e-3, train_samples=40_000, lr_warmup_samples=4_000,
                                    lr_decay_style="WSD", lr_wsd_decay_samples=8_000),
}


def expected_counts(a):
    """Megatron-LM's get_optimizer_param_scheduler arithmetic, restated."""
    a = dict(jm.config.DEFAULTS, **a)
    if a["train_iters"]:
        gbs = a["global_batch_size"] or a["micro_batch_size"] * a["data_parallel_size"]
        decay = (a["lr_decay_iters"] or a["train_iters"]) * gbs
        wd = a["train_iters"] * gbs
        warm = (a["lr_warmup_fraction"] * decay if a["lr_warmup_fraction"] is not None
                else a["lr_warmup_iters"] * gbs)
        wsd = a["lr_wsd_decay_iters"] and a["lr_wsd_decay_iters"] * gbs
        return decay, wd, warm, wsd, gbs
    decay = a["lr_decay_samples"] or a["train_samples"]
    warm = (a["lr_warmup_fraction"] * decay if a["lr_warmup_fraction"] is not None
            else a["lr_warmup_samples"])
    return decay, a["train_samples"], warm, a["lr_wsd_decay_samples"], 1000


@pytest.mark.parametrize("name", sorted(RUNS))
def test_args_build_megatrons_scheduler(name):
    args = RUNS[name]
    kw = jm.scheduler_kwargs(argparse.Namespace(**args))
    assert jm.scheduler_kwargs(args) == kw  # a mapping reads the same
    decay, wd, warm, wsd, inc = expected_counts(args)
    assert (kw["lr_decay_steps"], kw["wd_incr_steps"], kw["lr_warmup_steps"],
            kw["wsd_decay_steps"]) == (decay, wd, warm, wsd)
    groups = [{"lr": 0.0, "weight_decay": 0.0}]
    ref = Ref(Optimizer(copy.deepcopy(groups)), **kw)
    ours = jm.from_args(args, copy.deepcopy(groups))
    total = decay + 3 * inc
    for it in range(total // inc + 1):
        theirs = [ref.optimizer.param_groups[0]["lr"], ref.optimizer.param_groups[0][
            "weight_decay"]]
        mine = [ours.get_last_lr()[0], ours.get_last_wd()[0]]
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-300, err_msg=str(it))
        ref.step(inc)
        ours.step(inc)
    assert ours.state_dict() == ref.state_dict()


def test_dashed_flag_names_and_constant_weight_decay():
    kw = jm.scheduler_kwargs({"--lr": 1e-3, "--train-iters": 10, "--global-batch-size": 8,
                              "--weight-decay": 0.05})
    assert (kw["start_wd"], kw["end_wd"], kw["wd_incr_style"]) == (0.05, 0.05, "constant")
    assert (kw["lr_decay_style"], kw["lr_wsd_decay_style"]) == ("linear", "exponential")


BAD = {
    "no_lr": (dict(train_iters=10, global_batch_size=8), ValueError, r"has no lr"),
    "no_length": (dict(lr=0.1), ValueError, r"either train_iters or train_samples"),
    "both_lengths": (dict(lr=0.1, train_iters=10, train_samples=80, global_batch_size=8),
                     ValueError, r"expected iteration-based training.*validate_args"),
    "iters_with_decay_samples": (dict(lr=0.1, train_iters=10, global_batch_size=8,
                                      lr_decay_samples=40), ValueError,
                                 r"expected iteration-based learning rate decay"),
    "iters_with_rampup": (dict(lr=0.1, train_iters=10, global_batch_size=8,
                               rampup_batch_size=[2, 2, 40]), ValueError,
                          r"no batch-size rampup"),
    "two_warmups_iters": (dict(lr=0.1, train_iters=10, global_batch_size=8,
                               lr_warmup_fraction=0.1, lr_warmup_iters=2), ValueError,
                          r"one of lr_warmup_fraction and lr_warmup_iters"),
    "samples_with_decay_iters": (dict(lr=0.1, train_samples=100, lr_decay_iters=5),
                                 ValueError, r"expected sample-based learning rate decay"),
    "two_warmups_samples": (dict(lr=0.1, train_samples=100, lr_warmup_fraction=0.1,
                                 lr_warmup_samples=5), ValueError,
                            r"one of lr_warmup_fraction and lr_warmup_samples"),
    "constant_with_range": (dict(lr=0.1, train_samples=100, start_weight_decay=0.0,
                                 end_weight_decay=0.1), ValueError,
                            r"'constant' takes weight_decay"),
    "linear_without_range": (dict(lr=0.1, train_samples=100,
                                  weight_decay_incr_style="linear"), ValueError,
                             r"needs start_weight_decay and end_weight_decay"),
    "no_batch_size": (dict(lr=0.1, train_iters=10), TypeError,
                      r"scheduler_kwargs: global_batch_size"),
    "iters_as_string": (dict(lr=0.1, train_iters="10", global_batch_size=8), TypeError,
                        r"train_iters"),
    "not_args": ([("lr", 0.1)], TypeError, r"argparse.Namespace or a mapping"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_arguments_raise(name):
    args, err, match = BAD[name]
    with pytest.raises(err, match=match):
        jm.scheduler_kwargs(args)


def test_warmup_fraction_reaching_the_decay_raises():
    with pytest.raises(ValueError, match=r"lr_warmup_steps must be < lr_decay_steps"):
        jm.from_args(dict(lr=0.1, train_samples=100, lr_warmup_fraction=1.0))
