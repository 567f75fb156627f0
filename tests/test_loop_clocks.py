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
                                                        st.integers(1, 3 * 10**6)))]


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


LO = jaxsched.Schedule(lambda c: c % 4096, name="count mod 4096")
HI = jaxsched.Schedule(lambda c: c // 4096, name="count // 4096")


def counted(clock, *args, **kw):
    """The clock's integer count, read exactly through float32 values (two parts < 2**24);
    NaN where the clock gives NaN."""
    lo, hi = jax.jit(clock(LO, *args, **kw)), jax.jit(clock(HI, *args, **kw))

    def at(i):
        a, b = float(lo(i)), float(hi(i))
        return a if np.isnan(a) else int(b) * 4096 + int(a)

    return at


def test_tokens_units_and_limits():
    """Tokens in thousands: 8 sequences of 4096 tokens per iteration = 32 units of 1024.
    Without x64 the clock holds to its int32 limit exactly, then raises eagerly (concrete
    count) or gives NaN (inside jit): never a wrapped or held count; with x64 it goes on."""
    identity = jaxsched.Schedule(lambda c: c, name="identity")
    s = jaxsched.samples_clock(identity, 8, seq_length=4096, unit=1024)
    assert [int(s(jnp.asarray(i, jnp.int32))) for i in (0, 1, 10)] == [0, 32, 320]
    limit = s.params["limit"][False]
    assert limit == (2**31 - 1) // 32  # consumed samples * 4 <= 2**31 - 1
    at = counted(jaxsched.samples_clock, 8, seq_length=4096, unit=1024)
    assert at(limit) == limit * 32 == 2**31 - 32
    with pytest.raises(ValueError, match=rf"samples_clock: count {limit + 1} is past {limit}.*"
                       r"int32.*enable x64.*or count in a larger unit"):
        s(limit + 1)
    assert np.isnan(float(jax.jit(s)(jnp.asarray(limit + 1, jnp.int32))))
    assert np.isnan(float(jax.jit(s)(jnp.asarray(2**31 - 1, jnp.int32))))
    with pytest.raises(ValueError, match=r"samples consumed before iteration 268435456 are "
                       r"past int32's 2147483647"):
        s.params["consumed"](jnp.asarray(2**28, jnp.int32))
    assert int(jax.jit(s.params["consumed"])(jnp.asarray(2**28, jnp.int32))) == -1
    with jax.enable_x64(True):
        f = jax.jit(s)
        for i in (2**31 - 1, 2**31, 2**32, 2**40, 2**53 // 32 - 1):
            assert int(f(jnp.asarray(i, jnp.int64))) == i * 32, i
    per_token = jaxsched.samples_clock(identity, 8, seq_length=4, unit=8)  # unit % seq == 0
    assert [int(per_token(i)) for i in (1, 3)] == [4, 12]


def test_samples_clock_exact_at_far_counts_with_ramp():
    """x64: the count of iterations 2**31-1, 2**31, 2**32 and the last below 2**53 tokens,
    after Megatron's ramp-up, exactly as Python's integers give it (a unit that does not
    divide the sequence length: 3 tokens per unit)."""
    identity = jaxsched.Schedule(lambda c: c, name="identity")
    gbs, ramp, seq, unit = 4096, [1024, 1024, 3_000_000], 4096, 3
    iters, consumed, batches = jaxsched.rampup_table(gbs, ramp)
    s = jaxsched.samples_clock(identity, gbs, ramp, seq_length=seq, unit=unit)

    def exact(i):
        j = max(n for n, it in enumerate(iters) if it <= i)
        return (consumed[j] + (i - iters[j]) * batches[j]) * seq // unit

    top = ((2**53 - 1) * unit // seq - consumed[-1]) // gbs + iters[-1]  # count < 2**53
    at = counted(jaxsched.samples_clock, gbs, ramp, seq_length=seq, unit=unit)
    with jax.enable_x64(True):
        ks = [0, 1, iters[1], iters[-1] - 1, iters[-1], top, 2**31 - 1, 2**31, 2**32]
        assert [at(jnp.asarray(i, jnp.int64)) for i in ks] == [exact(i) for i in ks]
        assert exact(top) < 2**53 <= exact(top + 1)
        assert float(s(top)) == exact(top)  # below 2**53: the float64 value is exact


def test_epoch_clock_limits_and_far_counts():
    """units=1000 over 391 steps an epoch: without x64 exact to the int32 limit (step
    839666106), then an eager ValueError (concrete) or NaN (jit), not the wrap to the
    schedule's start; with x64 exact at 2**31-1, 2**31, 2**32, 2**53-1."""
    identity = jaxsched.Schedule(lambda c: c, name="identity")
    s = jaxsched.epoch_clock(identity, 391, 1000)
    limit = s.params["limit"][False]
    assert limit == 839666106 and limit * 1000 // 391 <= 2**31 - 1 < (limit + 1) * 1000 // 391
    assert counted(jaxsched.epoch_clock, 391, 1000)(limit) == limit * 1000 // 391
    with pytest.raises(ValueError, match=r"epoch_clock: count 839666107 is past 839666106.*"
                       r"enable x64.*or use fewer units"):
        s(limit + 1)
    step = jax.jit(jaxsched.epoch_clock(jaxsched.step_lr(5, 0.5, lr=1.0), 391, 1000))
    assert np.isnan(float(step(jnp.asarray(2**31 - 1, jnp.int32))))
    at = counted(jaxsched.epoch_clock, 391, 1000)
    with jax.enable_x64(True):
        for k in (2**31 - 1, 2**31, 2**32, 2**53 - 1, limit * 10**9):
            assert at(jnp.asarray(k, jnp.int64)) == k * 1000 // 391, k
    big = jaxsched.epoch_clock(identity, 100_000, 100_001)  # (n - 1) u past int32
    with pytest.raises(ValueError, match=r"epoch_clock: units / steps_per_epoch = 100001 / "
                       r"100000 \(reduced\) needs products.*past int32.*enable x64"):
        big(5)
    with jax.enable_x64(True):
        assert int(big(2**40)) == 2**40 * 100_001 // 100_000


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
