"""DeepSeek-V3 as its paper defines it (``jaxsched.presets.deepseek_v3``): driven by consumed
tokens with its batch ramp, checked at every step of the 14.8T-token run against the paper's
formula on exact integer token counts (float64: 1e-12 relative; float32: 2e-6 of the peak),
and against the 50-digit oracle at every phase boundary; the tokens and batch of each step
against Megatron's ramp-up calculator; the older step-proportional preset kept as
``deepseek_v3_steps`` and shown to differ where the issue said."""

from __future__ import annotations

import math
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsched import presets
from jaxsched.tools import oracle

from helpers import require

S = presets.deepseek_v3()
ITERS, CONSUMED, BATCHES = S.params["table"]
B1, B2, B3, END = S.params["token_bounds"]
TOTAL = S.params["total_steps"]
STEPS = np.arange(TOTAL + 10)


def tokens(k):
    """Tokens consumed before step k, exactly (numpy int64 holds 1.5e13)."""
    k = np.asarray(k, np.int64)
    j = np.searchsorted(np.asarray(ITERS), k, side="right") - 1
    return (np.asarray(CONSUMED, np.int64)[j]
            + (k - np.asarray(ITERS, np.int64)[j]) * np.asarray(BATCHES, np.int64)[j]) * 4096


def paper(k):
    """The paper's formula on exact token counts, in float64 (the cosine from the exact
    integer distance to its end)."""
    t = tokens(k)
    rest = np.clip(B2 - t, 0, B2 - B1).astype(np.float64)
    cosine = 2.2e-5 + (2.2e-4 - 2.2e-5) * np.sin(np.pi / 2 * rest / (B2 - B1)) ** 2
    return np.where(k < 2000, 2.2e-4 * k / 2000, np.where(t < B1, 2.2e-4, np.where(
        t < B2, cosine, np.where(t < B3, 2.2e-5, 7.3e-6))))


def test_the_run_is_the_papers():
    """14.8T tokens; the batch ramps from 3072 to 15360 sequences of 4096 tokens over the
    first ~469B tokens (Megatron's ramp, 16 increments); the phases end at 10T, 14.3T,
    14.633T tokens."""
    assert (B1, B2, B3, END) == (10**13, 143 * 10**11, 14633 * 10**9, 148 * 10**11)
    assert BATCHES[0] == 3072 and BATCHES[-1] == 15360 and len(BATCHES) == 17
    assert 469 * 10**9 - 15360 * 4096 < CONSUMED[-1] * 4096 <= 469 * 10**9 + 15360 * 4096
    t = tokens([TOTAL - 1, TOTAL])
    assert t[0] < END <= t[1]
    for b, k in zip((B1, B2, B3), S.params["boundary_steps"], strict=True):
        assert tokens(k - 1) < b <= tokens(k)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(jax.vmap(S.params["tokens"]))(jnp.arange(TOTAL + 1)))
    assert got.dtype == np.int64  # exact integer tokens under x64
    np.testing.assert_array_equal(got, tokens(np.arange(TOTAL + 1)))


def test_batches_match_megatron_rampup():
    """The batch of every step around each ramp segment's start, and the consumed tokens
    before it, are what megatron-core's calculator gives at that consumed count."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc_module = require("megatron.core.num_microbatches_calculator")
    start, inc, ramp = presets.tokens.V3_RAMPUP
    calc = calc_module.RampupBatchsizeNumMicroBatchesCalculator(15360, 1, 1, False, 1,
                                                                start, inc, ramp)
    ks = sorted({max(i + d, 0) for i in ITERS for d in (-2, -1, 0, 1, 2)} | {TOTAL})
    for k in ks:
        consumed = int(tokens(k)) // 4096
        calc.update(consumed, consistency_check=True)
        assert int(tokens(k + 1) - tokens(k)) == calc.get_current_global_batch_size() * 4096


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_every_step_of_the_run(x64):
    """All 243771 steps in one jitted vmap (one trace), against the paper's formula."""
    want = paper(STEPS)
    with jax.enable_x64(x64):
        chex.clear_trace_counter()
        f = jax.jit(jax.vmap(chex.assert_max_traces(lambda k: S(k), n=1)))
        got = np.asarray(f(jnp.asarray(STEPS)), np.float64)
    if x64:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    else:
        assert np.max(np.abs(got - want)) <= 2e-6 * 2.2e-4


def test_exact_at_the_boundaries_against_the_oracle():
    """float64 within 1e-12 relative of the 50-digit value of the paper's formula at every
    boundary (step and token) +-1, the ramp's segments, far past the end and 2**31-1, 2**53-1
    (the last phase holds)."""
    ks = {0, 1, 1999, 2000, 2001, TOTAL - 1, TOTAL, TOTAL + 1, 10**7, 2**31 - 1}
    for b in (*S.params["boundary_steps"], *ITERS[1:]):
        ks |= {b - 1, b, b + 1}
    ks = sorted(ks)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(jax.vmap(S))(jnp.asarray(ks)))
        far = float(jax.jit(S)(2**53 - 1))
    exact = np.asarray([float(v) for v in oracle.exact_values(S, ks)])
    np.testing.assert_allclose(got, exact, rtol=1e-12, atol=0)
    assert far == 7.3e-6
    assert oracle.exact_values(S, [2**31 - 1])[0] == pytest.approx(7.3e-6, rel=1e-30)


def test_old_step_preset_differs_from_the_paper():
    """At 14.5T tokens the paper has 2.2e-5, from 14.8T on 7.3e-6 (the values the issue
    found missing). The step-proportional preset over the same steps ignores the ramp (its
    early steps consume a fifth of the tokens): it leaves the peak ~2.8K steps early and
    drops to 7.3e-6 ~100 steps early."""
    old = presets.deepseek_v3_steps(TOTAL)
    k145 = int(np.searchsorted(tokens(STEPS), 145 * 10**11))
    (n1, _, n3), (o1, _, o3) = S.params["boundary_steps"], old.params["boundaries"]
    assert n1 - o1 > 2500 and n3 - o3 > 50
    with jax.enable_x64(True):
        assert [float(S(k)) for k in (k145, TOTAL, TOTAL + 10**6)] == [2.2e-5, 7.3e-6, 7.3e-6]
        assert float(S(n1 - 1)) == 2.2e-4 > float(old(n1 - 1))
        assert float(S(n3 - 1)) == 2.2e-5 > float(old(n3 - 1)) == 7.3e-6


def test_bad_input():
    with pytest.raises(ValueError, match=r"deepseek_v3: tokens must have four phases"):
        presets.deepseek_v3(tokens=(1, 2))
    with pytest.raises(ValueError, match=r"deepseek_v3: warmup_steps=200000 reaches the end "
                       r"of the constant phase \(step 167468\)"):
        presets.deepseek_v3(warmup_steps=200_000)
    with pytest.raises(ValueError, match=r"deepseek_v3: final_lr \(0.001\) must not exceed "
                       r"decayed_lr"):
        presets.deepseek_v3(final_lr=1e-3)
    with pytest.raises(TypeError, match=r"deepseek_v3: peak_lr must be a real number"):
        presets.deepseek_v3(peak_lr="2.2e-4")
    assert math.isfinite(float(presets.deepseek_v3(rampup_batch_size=None)(10**5)))
