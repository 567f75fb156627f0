"""jaxsched.core.exact's integer powers against the exact power (mpmath), float32 and float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

from jaxsched.core.exact import idiv, imod, int_pow, piecewise_linear
from jaxsched.loop.clocks import rampup_table

COUNTS = [0, 1, 2, 255, 256, 257, 65535, 65536, 2**24 - 1, 2**24 + 1, 2**31 - 2, 2**31 - 1]


def exact_pow(gamma, n):
    with mpmath.workprec(200):
        return mpmath.mpf(gamma) ** n


@pytest.mark.parametrize("gamma", [1.0000001, 1.000013, 1.5, 2.2007959144784515, 10.0],
                         ids=["1+1e-7", "1+1.3e-5", "1.5", "2.2", "10"])
def test_float32_growth_is_within_a_few_ulps_at_any_count(gamma):
    """A growth factor in float32 (an LR range test, Keras's m_mul > 1): 2**(n log2 gamma)
    rounds y = n log2 gamma by y 2**-24, 2e-6 relative at 48 doublings (hypothesis found
    CosineDecayRestarts m_mul 2.2 at 2**31-1 2.0e-6 off); the byte tables keep 2.1e-7."""
    # and the counts where gamma**n passes 2**24, 2**48, 2**100, 2**127 (finite, far grown)
    counts = COUNTS + [min(int(y / np.log2(gamma)), 2**31 - 1) for y in (24, 48, 100, 127)]
    with jax.enable_x64(False):
        got = np.asarray(jax.jit(lambda n: int_pow(gamma, n))(jnp.asarray(counts, jnp.int32)))
    assert got.dtype == np.float32
    for n, g in zip(counts, got, strict=True):
        e = exact_pow(gamma, n)
        if e > np.finfo(np.float32).max:
            assert np.isinf(g), (gamma, n, g)
        else:
            assert abs(float(g) - float(e)) <= 2.1e-7 * float(e), (gamma, n, float(g), e)


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.999999, 1.5, 2.2007959144784515])
def test_float32_decay_and_float64_stay_within_contract(gamma):
    """A decay in float32 errs at most 4.4e-8 of the peak (the value falls as the error
    grows); float64 (XLA's pow) is within 1e-15 relative wherever the power is finite."""
    with jax.enable_x64(False):
        got32 = np.asarray(int_pow(gamma, jnp.asarray(COUNTS, jnp.int32)), np.float64)
    with jax.enable_x64(True):
        got64 = np.asarray(int_pow(gamma, jnp.asarray(COUNTS, jnp.int64)))
    for n, g32, g64 in zip(COUNTS, got32, got64, strict=True):
        e = exact_pow(gamma, n)
        if gamma < 1:
            assert abs(g32 - float(e)) <= 4.4e-8, (gamma, n, g32)
        if e < 1e300:
            assert abs(g64 - float(e)) <= 1e-15 * float(e), (gamma, n, g64)


def test_zero_and_one():
    with jax.enable_x64(False):
        assert [float(int_pow(0.0, n)) for n in (0, 1, 2**31 - 1)] == [1.0, 0.0, 0.0]
        assert [float(int_pow(1.0, n)) for n in (0, 1, 2**31 - 1)] == [1.0, 1.0, 1.0]


def _consumed(i, iters, consumed, batches):
    j = max(j for j, s in enumerate(iters) if s <= i)
    return consumed[j] + batches[j] * (i - iters[j])


@pytest.mark.parametrize("x64", [False, True], ids=["int32", "int64"])
def test_piecewise_linear_scalar_and_array_at_every_segment_boundary(x64):
    """A Megatron batch ramp's consumed samples: the scalar count (lax.cond, one branch) and
    an array of counts (a select of both) equal the segment formula at 0, each segment start
    -1 / +0 / +1, and far past the ramp (the last count whose value int32 holds)."""
    iters, consumed, batches = rampup_table(4096, [1024, 512, 3_000_000])
    last = iters[-1] + (2**31 - 1 - consumed[-1]) // batches[-1]
    ks = sorted({0, 1, last, last - 1, *(s + d for s in iters for d in (-1, 0, 1) if s + d >= 0)})
    want = [_consumed(k, iters, consumed, batches) for k in ks]
    dt = jnp.int64 if x64 else jnp.int32
    with jax.enable_x64(x64):
        f = jax.jit(lambda k: piecewise_linear(k, iters, consumed, batches))
        scalar = [int(f(jnp.asarray(k, dt))) for k in ks]
        array = np.asarray(f(jnp.asarray(ks, dt))).tolist()
    assert scalar == want and array == want
    assert len(iters) == 7 and want[-1] <= 2**31 - 1


def test_unsigned_division_and_remainder_match_python():
    """idiv / imod divide as unsigned integers (no overflow guards): equal to Python's // and
    % for counts >= 0 to the int32 limit, with divisors 1, 7 and 2**31 - 1."""
    ks = [0, 1, 6, 7, 8, 2**31 - 2, 2**31 - 1]
    for d in (1, 7, 2**31 - 1):
        k = jnp.asarray(ks, jnp.int32)
        q, r = jax.jit(lambda k, d=d: (idiv(k, d), imod(k, d)))(k)
        assert q.dtype == r.dtype == jnp.int32
        assert np.asarray(q).tolist() == [x // d for x in ks]
        assert np.asarray(r).tolist() == [x % d for x in ks]
