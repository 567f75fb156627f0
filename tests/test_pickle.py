"""Schedules and adapters pickle, as torch's, transformers' and timm's schedulers do
(``pickle.dumps(scheduler)``, ``torch.save``, multiprocessing with spawn): every catalog
schedule and every adapter of every origin round-trips to identical values and state dicts."""

from __future__ import annotations

import io
import multiprocessing
import pickle

import jax
import numpy as np
import pytest
from bad_input_cases import ADAPTERS

import jaxsched
from jaxsched.tools import catalog, cli, parity

from helpers import require

COUNTS = np.array([0, 1, 2, 7, 50, 99, 100, 101, 333, 999, 1000, 1001, 12345, 10**6,
                   2**31 - 1])
SCHEDULES = sorted(n for n, e in catalog.ENTRIES.items() if e.cli)


def settings(name: str) -> dict:
    return dict(cli.parse_specs([name, *catalog.ENTRIES[name].example.split()])[0][1])


@pytest.mark.parametrize("name", SCHEDULES)
def test_catalog_schedule_round_trips(name):
    with jax.enable_x64(True):
        s = catalog.build(name, settings(name))
        back = pickle.loads(pickle.dumps(s))
        assert type(back) is type(s) and back.name == s.name
        counts = COUNTS[:-2] if name == "MultiplicativeLR" else COUNTS  # O(k) per value
        ours, theirs = jax.jit(jax.vmap(s))(counts), jax.jit(jax.vmap(back))(counts)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        if s.momentum is not None:
            np.testing.assert_array_equal(np.asarray(jax.vmap(s.momentum)(counts)),
                                          np.asarray(jax.vmap(back.momentum)(counts)))


def test_composites_and_wrappers_round_trip():
    a = jaxsched.linear_lr(0.1, 1.0, 10, lr=0.1)
    b = jaxsched.cosine_annealing_lr(90, 1e-4, lr=0.1)
    made = [jaxsched.sequential_lr([a, b], [10]),
            jaxsched.chained_scheduler([jaxsched.step_lr(5, 0.5, lr=0.1),
                                        jaxsched.exponential_lr(0.99, lr=0.1)]),
            jaxsched.per_epoch(b, steps_per_epoch=7),
            jaxsched.lambda_lr(parity.pow095, lr=0.1)]
    for s in made:
        back = pickle.loads(pickle.dumps(s))
        np.testing.assert_array_equal(np.asarray(jax.vmap(s)(COUNTS)),
                                      np.asarray(jax.vmap(back)(COUNTS)))


def test_unpicklable_lambda_fails_as_torch_does():
    s = jaxsched.lambda_lr(lambda k: 0.5**k, lr=0.1)
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(s)


def _step(sched, n):
    for i in range(n):
        if isinstance(sched, (jaxsched.ReduceLROnPlateau, jaxsched.timm.PlateauLRScheduler)):
            sched.step(float(10 - i % 4))
        elif isinstance(sched, jaxsched.timm.TimmAdapter):
            sched.step_update(sched._count + 1)  # the next update (t_in_epochs=False)
        elif isinstance(sched, jaxsched.megatron.OptimizerParamScheduler):
            sched.step(1)
        else:
            sched.step()


def _more_adapters():
    groups = [{"lr": 0.1, "betas": (0.9, 0.999)}, {"lr": 0.02, "betas": (0.9, 0.999)}]
    return {
        "timm.CosineLRScheduler": lambda: jaxsched.timm.CosineLRScheduler(
            groups, t_initial=50, warmup_t=5, warmup_lr_init=1e-4, t_in_epochs=False),
        "timm.StepLRScheduler": lambda: jaxsched.timm.StepLRScheduler(
            groups, decay_t=7, decay_rate=0.5, t_in_epochs=False),
        "timm.PlateauLRScheduler": lambda: jaxsched.timm.PlateauLRScheduler(
            groups, patience_t=1, decay_rate=0.5),
        "hf.linear": lambda: jaxsched.transformers.get_scheduler(
            "linear", groups, num_warmup_steps=5, num_training_steps=50),
        "megatron.OptimizerParamScheduler": lambda: jaxsched.megatron.OptimizerParamScheduler(
            groups, init_lr=0.0, max_lr=0.1, min_lr=0.001, lr_warmup_steps=5,
            lr_decay_steps=50, lr_decay_style="cosine", start_wd=0.0, end_wd=0.1,
            wd_incr_steps=50, wd_incr_style="linear"),
        "OneCycleLR": lambda: jaxsched.OneCycleLR(groups, 0.1, total_steps=100),
        "MultiplicativeLR-named-fn": lambda: jaxsched.MultiplicativeLR(groups, parity.wobble),
        "LambdaLR-named-fn": lambda: jaxsched.LambdaLR(groups, [parity.pow095, parity.inv]),
    }


# bad_input_cases' LambdaLR holds a lambda (unpicklable, as in torch): a named function here
ALL_ADAPTERS = {**{k: v for k, v in ADAPTERS.items() if k != "LambdaLR"}, **_more_adapters()}


@pytest.mark.parametrize("name", sorted(ALL_ADAPTERS))
def test_adapter_round_trips(name):
    sched = ALL_ADAPTERS[name]()
    _step(sched, 4)
    back = pickle.loads(pickle.dumps(sched))
    assert type(back) is type(sched)
    assert back.state_dict() == sched.state_dict()
    for _ in range(6):  # both go on identically
        assert back.param_groups == sched.param_groups
        _step(sched, 1)
        _step(back, 1)
    assert back.state_dict() == sched.state_dict()


def test_torch_save_round_trips():
    torch = require("torch")
    sched = jaxsched.OneCycleLR([{"lr": 0.1, "momentum": 0.9}], 0.1, total_steps=100)
    _step(sched, 30)
    buf = io.BytesIO()
    torch.save(sched, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=False)
    assert back.state_dict() == sched.state_dict() and back.param_groups == sched.param_groups


def _lrs_in_child(sched):
    _step(sched, 3)
    return sched.get_last_lr(), sched.state_dict()["last_epoch"]


def test_spawn_worker_steps_a_pickled_adapter():
    sched = jaxsched.CosineAnnealingWarmRestarts([{"lr": 0.1}], T_0=5, T_mult=2)
    _step(sched, 4)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.apply(_lrs_in_child, (sched,))
    _step(sched, 3)
    assert got == (sched.get_last_lr(), 7)


@pytest.mark.parametrize("make", [
    lambda: jaxsched.presets.deepseek_v3(),
    lambda: jaxsched.samples_clock(jaxsched.megatron.lr_schedule(
        1e-3, 1e-4, 100, 10_000, "cosine"), 64, [16, 16, 1000], unit=16),
    lambda: jaxsched.epoch_clock(jaxsched.step_lr(3, 0.5, lr=1.0), 100, 10),
], ids=["deepseek_v3_tokens", "samples_clock", "epoch_clock"])
def test_non_catalog_schedules_round_trip(make):
    """Schedules outside the command-line catalog: the token preset and the clocks."""
    s = make()
    back = pickle.loads(pickle.dumps(s))
    counts = np.asarray([0, 1, 99, 100, 101, 5000, 2**20], np.int32)
    np.testing.assert_array_equal(np.asarray(jax.vmap(s)(counts)),
                                  np.asarray(jax.vmap(back)(counts)))
