"""Clocks: consumed samples / tokens with Megatron's batch-size ramp-up against megatron-core's
own ``RampupBatchsizeNumMicroBatchesCalculator`` (iteration by iteration, as Megatron's
training loop consumes), a Megatron schedule driven by that clock against the real scheduler
stepped by each iteration's batch; fractional epochs at boundaries and far counts."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxsched

from helpers import require

require("torch")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    calc_module = require("megatron.core.num_microbatches_calculator")
    Ref = require("megatron.core.optimizer_param_scheduler").OptimizerParamScheduler


def megatron_consumed(gbs, rampup, iterations, micro=1, dp=1):
    """What Megatron's loop consumes before each iteration."""
    calc = calc_module.RampupBatchsizeNumMicroBatchesCalculator(
        gbs, micro, dp, False, 1, rampup[0], rampup[1], rampup[2])
    consumed, out = 0, []
    for _ in range(iterations):
        calc.update(consumed, consistency_check=True)
        out.append(consumed)
        consumed += calc.get_current_global_batch_size()
    return out


@st.composite
def ramps(draw):
    start = draw(st.integers(1, 64))
    inc = draw(st.integers(1, 64))
    n = draw(st.integers(1, 40))
    return start + n * inc, [start, inc, draw(st.one_of(st.integers(1, 5000),
                                                        st.integers(0, 3 * 10**6)))]


@settings(max_examples=30, deadline=None)
@given(ramp=ramps())
def test_consumed_samples_match_megatron(ramp):
    gbs, rampup = ramp
    iters, consumed, batches = jaxsched.rampup_table(gbs, rampup)
    assert consumed[0] == 0 and list(consumed) == sorted(consumed)
    n = iters[-1] + 50
    ref = megatron_consumed(gbs, rampup, n)
    s = jaxsched.samples_clock(jaxsched.constant_lr(1.0, 1, lr=1.0), gbs, rampup)
    ours = np.asarray(jax.jit(jax.vmap(s.params["consumed"]))(jnp.arange(n, dtype=jnp.int32)))
    np.testing.assert_array_equal(ours, ref)
    assert batches[-1] == gbs


def test_megatron_schedule_on_the_samples_clock():
    """Megatron's loop: the lr of iteration i is the scheduler's after the previous
    iterations' batches; the clock gives it from i alone, inside jit."""
    gbs, rampup = 256, [32, 32, 20_000]
    kw = dict(init_lr=0.0, max_lr=3e-4, min_lr=3e-5, lr_warmup_steps=5_000,
              lr_decay_steps=200_000, lr_decay_style="cosine", start_wd=0.1, end_wd=0.1,
              wd_incr_steps=200_000, wd_incr_style="constant")

    class Opt:
        def __init__(self):
            self.param_groups = [{"lr": 0.0, "weight_decay": 0.0}]

    opt = Opt()
    ref = Ref(opt, **kw)
    consumed = megatron_consumed(gbs, rampup, 1_000)
    s = jaxsched.samples_clock(jaxsched.megatron.lr_schedule(
        kw["max_lr"], kw["min_lr"], kw["lr_warmup_steps"], kw["lr_decay_steps"],
        kw["lr_decay_style"]), gbs, rampup)
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(jax.vmap(s))(jnp.arange(1_000)))
    theirs = []
    for i in range(1_000):
        theirs.append(opt.param_groups[0]["lr"])
        ref.step((consumed[i + 1] if i + 1 < len(consumed) else consumed[i] + gbs)
                 - consumed[i])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300)


def test_tokens_units_and_saturation():
    """Tokens in thousands: 8 sequences of 4096 tokens per iteration = 32 units of 1024;
    past int32 (no x64) the clock saturates instead of wrapping; with x64 it goes on."""
    identity = jaxsched.Schedule(lambda c: c, name="identity")
    s = jaxsched.samples_clock(identity, 8, seq_length=4096, unit=1024)
    assert [int(s(jnp.asarray(i, jnp.int32))) for i in (0, 1, 10)] == [0, 32, 320]
    far = [int(s(jnp.asarray(i, jnp.int32))) for i in (2**26, 2**31 - 1)]
    assert far[0] == far[1] >= 2**31 - 40  # saturated near 2**31 - 1
    raw = [int(s.params["consumed"](jnp.asarray(i, jnp.int32))) for i in (2**28, 2**31 - 1)]
    assert raw[0] == raw[1] == (2**31 - 1) // 8 * 8
    with jax.enable_x64(True):
        assert int(s(jnp.asarray(2**31 - 1))) == (2**31 - 1) * 32
    per_token = jaxsched.samples_clock(identity, 8, seq_length=4, unit=8)  # unit % seq == 0
    assert [int(per_token(i)) for i in (1, 3)] == [4, 12]


@pytest.mark.parametrize("n,units", [(30, 10), (7, 3), (1000, 1), (1, 100), (12, 8)])
def test_epoch_clock_is_exact_at_boundaries(n, units):
    inner = jaxsched.Schedule(lambda c: c, name="identity")
    s = jaxsched.epoch_clock(inner, n, units)
    ks = sorted({0, 1, n - 1, n, n + 1, 5 * n - 1, 5 * n, 10**6, 2**31 - 1 - n * units})
    with jax.enable_x64(True):  # int32 counts, float64 values: every count exact
        got = [int(s(jnp.asarray(k, jnp.int32))) for k in ks]
    assert got == [k * units // n for k in ks]


def test_bad_clocks():
    c = jaxsched.constant_lr(1.0, 1, lr=1.0)
    with pytest.raises(ValueError, match=r"rampup_table: global_batch_size - start = 0"):
        jaxsched.samples_clock(c, 32, [32, 8, 100])
    with pytest.raises(ValueError, match=r"multiple of the increment 7"):
        jaxsched.samples_clock(c, 32, [8, 7, 100])
    with pytest.raises(ValueError, match=r"rampup_batch_size must be \[start, increment"):
        jaxsched.samples_clock(c, 32, [8, 8])
    with pytest.raises(ValueError, match=r"samples\) must be > 0.*ZeroDivisionError"):
        jaxsched.samples_clock(c, 32, [8, 8, 0])
    with pytest.raises(TypeError, match=r"samples_clock: schedule must be"):
        jaxsched.samples_clock(lambda k: k, 32)
    with pytest.raises(ValueError, match=r"epoch_clock: units must be in \[1, .*got 0"):
        jaxsched.epoch_clock(c, 10, 0)
