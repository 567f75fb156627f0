"""LLM presets at their published breakpoints (step 0, b-1, b, b+1 and far past the end),
WSD against transformers' own, and eager validation."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import jaxsched
from jaxsched import presets

from helpers import require

FAR = 2**31 - 1


def values(s, steps, x64=True):
    with jax.enable_x64(x64):
        return [float(v) for v in jax.jit(jax.vmap(s))(np.asarray(steps))]


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_deepseek_llm_published_breakpoints(x64):
    """Warmup 2000 steps; 31.6% of the peak after 80% of training; 10% after 90%."""
    s = presets.deepseek_llm(100_000)
    peak = 4.2e-4
    got = values(s, [0, 1000, 1999, 2000, 2001, 79_999, 80_000, 80_001, 89_999, 90_000,
                     90_001, 100_000, FAR], x64)
    want = [0.0, peak / 2, peak * 1999 / 2000, peak, peak, peak, 0.316 * peak, 0.316 * peak,
            0.316 * peak, 0.1 * peak, 0.1 * peak, 0.1 * peak, 0.1 * peak]
    np.testing.assert_allclose(got, want, rtol=1e-12 if x64 else 1e-6)


def test_deepseek_llm_milestones_are_exact_ceilings():
    s = presets.deepseek_llm(12_345, peak_lr=1.0)
    assert s.params["milestone_steps"] == (9876, 11111)  # ceil(0.8*12345)=9876, ceil(11110.5)
    assert values(s, [9875, 9876, 11110, 11111]) == [1.0, 0.316, 0.316, 0.1]


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_deepseek_v3_published_breakpoints(x64):
    """14.8T tokens as 148_000 steps of 100M tokens: warmup 2K steps to 2.2e-4, constant to
    10T (step 100_000), cosine to 2.2e-5 by 14.3T, 2.2e-5 for 333B, 7.3e-6 for 167B."""
    s = presets.deepseek_v3_steps(148_000)
    assert s.params["boundaries"] == (100_000, 143_000, 146_330)
    mid = 2.2e-5 + (2.2e-4 - 2.2e-5) * 0.5
    got = values(s, [0, 1000, 1999, 2000, 2001, 99_999, 100_000, 100_001, 121_500, 142_999,
                     143_000, 143_001, 146_329, 146_330, 146_331, 148_000, FAR], x64)
    want = [0.0, 1.1e-4, 2.2e-4 * 1999 / 2000, 2.2e-4, 2.2e-4, 2.2e-4, 2.2e-4, None, mid,
            None, 2.2e-5, 2.2e-5, 2.2e-5, 7.3e-6, 7.3e-6, 7.3e-6, 7.3e-6]
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is not None:
            assert g == pytest.approx(w, rel=1e-12 if x64 else 1e-6), k
    assert 2.2e-4 > got[7] > got[8] > got[9] > 2.2e-5  # strictly inside the cosine


def test_inverse_sqrt_matches_attention_is_all_you_need():
    """d_model ** -0.5 * min(s ** -0.5, s * 4000 ** -1.5) with s = k + 1."""
    s = presets.inverse_sqrt(d_model=512)
    steps = [0, 3998, 3999, 4000, 10**5, FAR]
    want = [512**-0.5 * min((k + 1) ** -0.5, (k + 1) * 4000**-1.5) for k in steps]
    np.testing.assert_allclose(values(s, steps), want, rtol=1e-12)
    curve = values(s, range(20_000))
    assert max(curve) == curve[3999] == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-12)


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warmup_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_wsd_is_transformers_wsd(decay_type, warmup_type):
    torch = require("torch")
    transformers = require("transformers")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    ref = transformers.get_wsd_schedule(opt, num_warmup_steps=10, num_decay_steps=20,
                                        num_training_steps=100, warmup_type=warmup_type,
                                        decay_type=decay_type, min_lr_ratio=0.05)
    want = []
    for _ in range(110):
        want.append(opt.param_groups[0]["lr"])
        ref.step()
    s = presets.warmup_stable_decay(3e-4, 100, warmup_steps=10, decay_fraction=0.2,
                                    decay_type=decay_type, warmup_type=warmup_type,
                                    min_lr_ratio=0.05)
    np.testing.assert_allclose(values(s, range(110)), want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_wsd_exponential_decays_geometrically_to_the_floor(x64):
    s = presets.warmup_stable_decay(1.0, 1000, warmup_steps=100, decay_type="exponential",
                                    min_lr_ratio=0.01)
    assert s.params["decay_steps"] == 200
    got = values(s, [0, 99, 100, 799, 800, 801, 900, 999, 1000, FAR], x64)
    want = [0.01, 0.01 + 0.99 * 0.99, 1.0, 1.0, 1.0, 0.01 ** (1 / 200), 0.1, 0.01 ** (199 / 200),
            0.01, 0.01]
    np.testing.assert_allclose(got, want, rtol=1e-12 if x64 else 1e-6)


def test_wsd_defaults_are_hagele_et_al():
    s = presets.warmup_stable_decay(1.0, 1000)
    assert s.params["decay_steps"] == 200 and s.params["decay_type"] == "1-sqrt"
    assert values(s, [800, 900, 1000]) == [1.0, pytest.approx(1 - math.sqrt(0.5)), 0.0]


def test_presets_are_schedules_with_one_trace():
    for s in (presets.deepseek_llm(10_000), presets.deepseek_v3_steps(20_000),
              presets.inverse_sqrt(1e-3), presets.warmup_stable_decay(1e-3, 5000)):
        assert isinstance(s, jaxsched.Schedule)
        traces = []
        f = jax.jit(lambda k, s=s, t=traces: (t.append(1), s(k))[1])
        for k in range(0, 30_000, 997):
            f(k)
        assert len(traces) == 1


BAD = [
    ("llm_short", lambda: presets.deepseek_llm(2000), ValueError,
     "deepseek_llm: need warmup_steps <= first milestone"),
    ("llm_factor", lambda: presets.deepseek_llm(10_000, factors=(1.5, 0.1)), ValueError,
     r"deepseek_llm: factors must be in \[0, 1\], got 1.5"),
    ("v3_short", lambda: presets.deepseek_v3_steps(100), ValueError,
     "deepseek_v3_steps: need warmup_steps <= constant-phase end"),
    ("v3_tokens", lambda: presets.deepseek_v3_steps(10**6, tokens_b=(1, 2)), ValueError,
     "deepseek_v3_steps: tokens_b must have four phases"),
    ("isqrt_both", lambda: presets.inverse_sqrt(1e-3, d_model=512), ValueError,
     "inverse_sqrt: give exactly one of peak_lr and d_model"),
    ("isqrt_warmup", lambda: presets.inverse_sqrt(1e-3, warmup_steps=0), ValueError,
     r"inverse_sqrt: warmup_steps must be in \[1"),
    ("wsd_exp_zero", lambda: presets.warmup_stable_decay(1.0, 10, decay_type="exponential"),
     ValueError, "warmup_stable_decay: exponential decay needs min_lr_ratio > 0"),
    ("wsd_long", lambda: presets.warmup_stable_decay(1.0, 10, warmup_steps=9), ValueError,
     r"warmup_stable_decay: warmup_steps \+ decay steps \(9 \+ 2\) must not exceed"),
    ("wsd_type", lambda: presets.warmup_stable_decay(1.0, 10, decay_type="step"), ValueError,
     "warmup_stable_decay: decay_type must be one of"),
    ("wsd_lr", lambda: presets.warmup_stable_decay("1e-3", 10), TypeError,
     "warmup_stable_decay: peak_lr must be a real number"),
]


@pytest.mark.parametrize("make,error,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments_raise_eagerly(make, error, match):
    with pytest.raises(error, match=match):
        make()
