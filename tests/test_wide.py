"""Wide counts without x64 (``jaxsched.WideCount``, two uint32 limbs): its arithmetic
against Python ints at counts to 2**64-1; every origin's schedules at a wide count within
the float32 contract (2e-6 of the peak) of the x64 schedule's float64 value at the int64
count (itself within 1e-12 of the exact formula: tests/test_scale.py), bitwise the int32
count's float32 value below 2**31, with no float64 in the program; under jit, vmap, scan
and grad; and the transforms and clocks that keep one (``wide_count=True``) exact past
2**31-1 through ``optax.MultiSteps``, keeping their leaves' traits, in one trace, through a
checkpoint round trip."""

from __future__ import annotations

import pickle
import re
from fractions import Fraction

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxsched
from jaxsched import WideCount
from jaxsched.tools import catalog, cli_common
from jaxsched.tools.judge import FLOAT32_PEAK_TOL

EDGES = [0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**53 - 1, 2**53,
         2**63 - 1, 2**64 - 1]
counts = st.one_of(st.sampled_from(EDGES), st.integers(0, 2**53), st.integers(0, 2**64 - 1))


def f32_nearest(n: int) -> float:
    """The float32 nearest ``n`` (ties to even), exactly."""
    f = np.float32(float(n))  # two roundings: the answer is it or a neighbour
    cands = [np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf))]
    cands = [c for c in cands if np.isfinite(c)]
    return float(min(cands, key=lambda c: (abs(Fraction(float(c)) - n),
                                           int(np.float32(c).view(np.uint32)) & 1)))


def assert_f32_contract(ours, ref, msg="", peak=None):
    """float32 ``ours`` within the float32 contract (``FLOAT32_PEAK_TOL``, 2e-6, of the peak)
    of float64 ``ref`` (NaN where ``ref`` is)."""
    ours, ref = np.asarray(ours), np.asarray(ref, np.float64)
    assert ours.dtype == np.float32, msg
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=msg)
    ok = ~np.isnan(ref)
    peak = np.max(np.abs(ref[ok])) if peak is None else peak
    err = np.abs(ours[ok].astype(np.float64) - ref[ok])
    assert np.all(err <= FLOAT32_PEAK_TOL * peak), (msg, float(np.max(err) / peak))


def no_float64(fn, *args) -> bool:
    """Whether ``jit(fn)(*args)`` compiles to a program without float64 values: the float32
    formula, not a float64 one cast."""
    text = jax.jit(fn).lower(*args).compile().as_text()
    return re.search(r"\bf64\[", text) is None


_add = jax.jit(lambda w, i: w.add(i))
_add_wide = jax.jit(lambda w, v: w.add(v))
_float = jax.jit(lambda w: w.to_float())
_compare = {}


@settings(max_examples=60, deadline=None)
@given(n=counts, inc=st.one_of(st.sampled_from([0, 1, 2**31 - 1]), st.integers(0, 2**31 - 1)),
       other=counts)
def test_arithmetic_matches_python_ints(n, inc, other):
    w = WideCount.of(n)
    assert int(w) == n and w.hi.dtype == w.lo.dtype == jnp.uint32
    top = 2**64 - 1
    assert int(_add(w, jnp.int32(inc))) == min(n + inc, top)  # past 2**64-1: saturates
    assert int(_add(w, jnp.uint32(inc))) == min(n + inc, top)
    assert int(_add_wide(w, WideCount.of(other))) == min(n + other, top)
    assert int(w.add(inc)) == min(n + inc, top)  # a Python int
    assert float(_float(w)) == f32_nearest(n)
    for m in (other, n, n - 1, n + 1):
        assert int(w.compare(m)) == (n > m) - (n < m)


@pytest.mark.parametrize("n", EDGES, ids=str)
def test_boundaries_exact(n):
    w = WideCount.of(n)
    assert int(w) == n
    assert float(_float(w)) == f32_nearest(n)
    if n < 2**64 - 1:
        assert int(_add(w, jnp.int32(1))) == n + 1
        assert int(w.compare(n + 1)) == -1
    with jax.enable_x64(True):  # float64 from the limbs under x64: correctly rounded
        assert float(w.to_float()) == float(n)


def test_arrays_vmap_and_host_ints():
    ks = [0, 2**31, 2**53 - 1]
    w = jax.vmap(WideCount.of)(jnp.asarray([0, 2**31 - 1, 7], jnp.int32))
    assert list(w.to_int()) == [0, 2**31 - 1, 7]
    w = WideCount(jnp.asarray([k >> 32 for k in ks], jnp.uint32),
                  jnp.asarray([k & (2**32 - 1) for k in ks], jnp.uint32))
    assert list(jax.vmap(lambda w: w.add(1))(w).to_int()) == [k + 1 for k in ks]
    assert int(WideCount.of(jnp.int32(-5))) == 0  # a negative count is 0, as for a schedule
    assert int(WideCount.of(jnp.int32(3)).add(jnp.int32(-1))) == 2**64 - 1  # poisoned: NaN


@pytest.mark.parametrize("bad, err, match", [
    (-1, ValueError, r"WideCount.of: -1 is outside \[0, 2\*\*64-1\]"),
    (2**64, ValueError, r"outside \[0, 2\*\*64-1\]"),
    (True, TypeError, r"must be an integer, got the bool True"),
    (1.5, TypeError, r"must be an integer .* got 1.5"),
    ("5", TypeError, r"must be an integer"),
    (jnp.float32(3.0), TypeError, r"integer array, got float32"),
], ids=["negative", "past 2**64-1", "bool", "float", "str", "float array"])
def test_bad_counts_raise_eagerly(bad, err, match):
    with pytest.raises(err, match=match):
        WideCount.of(bad)


def test_add_refuses_bad_increments_eagerly():
    with pytest.raises(ValueError, match=r"WideCount.add: -3 is outside"):
        WideCount.of(5).add(-3)
    with pytest.raises(TypeError, match=r"increment must be an integer"):
        WideCount.of(5).add(0.5)


# --- every origin's schedules at wide counts ---------------------------------------------

WIDE_KS = [0, 1, 99, 100, 101, 299, 300, 301, 999, 1000, 1001, 14799, 2**31 - 1, 2**31,
           2**32, 2**40 + 7, 2**53 - 1]


# MultiplicativeLR's product runs one loop iteration per step: checked to 10**4 only
SLOW = {"MultiplicativeLR"}
# a user's lambda traced at the int64 count promotes its Python floats to float64 (closer to
# torch's Python-float lambda): not the int32 count's float32 value, not float64-free
LAMBDAS = {"LambdaLR", "MultiplicativeLR"}


def _entries():
    return [name for name, e in catalog.ENTRIES.items() if e.cli]


def _build(name):
    e = catalog.ENTRIES[name]
    settings_ = {}
    for token in e.example.split():
        key, _, value = token.partition("=")
        settings_[key] = cli_common.parse_value(value)
    return catalog.build(name, settings_)


@pytest.mark.parametrize("origin", sorted({catalog.ENTRIES[n].origin for n in _entries()}))
def test_every_origin_at_wide_counts_meets_the_float32_contract(origin):
    """Each catalog schedule of ``origin``, built without x64, at a WideCount (jit, vmap over
    counts from 0 to 2**53-1): within 2e-6 of the peak of the schedule built under x64 at
    the int64 count (float64, within 1e-12 of exact); below 2**31 bitwise the int32
    count's value (the same float32 formula); and no float64 in the compiled program."""
    names = [n for n in _entries() if catalog.ENTRIES[n].origin == origin]
    for name in names:
        ks = [k for k in WIDE_KS if k < 10**4] if name in SLOW else WIDE_KS
        hi = jnp.asarray([k >> 32 for k in ks], jnp.uint32)
        lo = jnp.asarray([k & (2**32 - 1) for k in ks], jnp.uint32)
        narrow_ks = jnp.asarray([k for k in ks if k < 2**31], jnp.int32)
        ours_s = _build(name)
        with jax.enable_x64(True):
            ref_s = _build(name)
        for key in ("lr", "momentum"):
            a = ours_s if key == "lr" else ours_s.momentum
            b = ref_s if key == "lr" else ref_s.momentum
            if a is None:
                continue
            at_wide = jax.vmap(lambda h, lo_, a=a: a(WideCount(h, lo_)))
            ours = np.asarray(jax.jit(at_wide)(hi, lo))
            with jax.enable_x64(True):
                ref = np.asarray(jax.jit(jax.vmap(b))(np.asarray(ks, np.int64)))
            assert_f32_contract(ours, ref, f"{name} {key}")
            if name in LAMBDAS:
                continue
            narrow = np.asarray(jax.jit(jax.vmap(a))(narrow_ks))
            np.testing.assert_array_equal(ours[:len(narrow)], narrow, err_msg=f"{name} {key}")
            assert no_float64(at_wide, hi, lo), f"{name} {key}"


def test_jit_vmap_scan_grad_across_2_32():
    """A scan that counts across 2**32 with the lr in a loss's gradient: exact at every
    step (against the x64 schedule at the int64 count), one trace."""
    s = jaxsched.cosine_annealing_lr(2**31 - 1, eta_min=0.001, lr=0.1)
    start = 2**32 - 3
    with jax.enable_x64(True):
        ref = np.asarray(jax.vmap(s)(np.arange(start, start + 6, dtype=np.int64)), np.float64)

    @jax.jit
    def run(w, p):
        def body(carry, _):
            w, p = carry
            g = jax.grad(lambda p: s(w) * jnp.sum(p**2))(p)
            return (w.add(1), p - g), s(w)
        return jax.lax.scan(body, (w, p), None, length=6)

    (w, p), lrs = run(WideCount.of(start), jnp.ones(3))
    assert int(w) == start + 6
    np.testing.assert_array_equal(np.asarray(lrs), ref.astype(np.float32))
    expect = np.float32(1.0)
    for v in ref.astype(np.float32):
        expect = expect - np.float32(2) * v * expect
    np.testing.assert_allclose(np.asarray(p), expect, rtol=1e-6)


def test_past_int64_is_nan_and_tpu_refused(monkeypatch):
    s = jaxsched.step_lr(10, 0.5, lr=1.0)
    assert np.isnan(float(jax.jit(s)(WideCount.of(2**63))))
    assert float(jax.jit(s)(WideCount.of(2**63 - 1))) == 0.0
    near = jaxsched.keras.CosineDecayRestarts(1.0, 1, t_mul=1 + 1e-6)
    assert not no_float64(near, WideCount.of(5))  # its float64 closed form, by design
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    with pytest.raises(ValueError, match=r"a schedule at a WideCount runs under a scoped x64 "
                                         r"inside a float32 program, which jaxsched does not "
                                         r"run on TPUs \(no float64 there\): enable x64"):
        s(WideCount.of(5))


def test_x64_mode_takes_wide_counts_too():
    s = jaxsched.cosine_annealing_lr(2**31 - 1, lr=1.0)
    with jax.enable_x64(True):
        v = jax.jit(s)(WideCount.of(3 * (2**31 - 1)))
        assert v.dtype == jnp.float64 and float(v) == float(s(np.int64(3 * (2**31 - 1))))


# --- where the count lives: scheduled, grouped, the clocks, the monitor ------------------

def _traits(tree):
    return [(x.dtype, x.weak_type, x.committed, x.sharding) for x in jax.tree.leaves(tree)]


def _x64_values(s, ks):
    with jax.enable_x64(True):
        return np.asarray(jax.vmap(s)(np.asarray(ks, np.int64)))


def test_scheduled_wide_count_through_multisteps():
    """``scheduled(..., wide_count=True)`` inside ``optax.MultiSteps(every_k=2)``: the
    count advances once per real update, across 2**32, and each update uses the value at
    its exact count (the float32 contract of the x64 value); the jitted step traces once
    and keeps every leaf's dtype, weak type, committedness and sharding."""
    # DeepSpeed's OneCycle: a cycle of 2**31-2 steps, then decay every step; momentum (b1) too
    s = jaxsched.one_cycle(0.01, 0.1, decay_lr_rate=0.5, cycle_first_step_size=2**30 - 1,
                           decay_step_size=1, decay_mom_rate=0.1)
    opt = optax.MultiSteps(jaxsched.scheduled(optax.adam, s, wide_count=True), every_k_schedule=2)
    params = jnp.zeros(3)
    state = opt.init(params)
    inner = state.inner_opt_state
    start = 2**32 - 2
    states = {k: WideCount.of(start) for k in inner.hyperparams_states}
    state = state._replace(inner_opt_state=inner._replace(hyperparams_states=states))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(p, st):
        u, st = opt.update(jnp.ones(3), st, p)
        return optax.apply_updates(p, u), st

    lrs, b1s = [], []
    p, state = step(params, state)
    traits = _traits(state)
    for _ in range(7):
        p, state = step(p, state)
        assert _traits(state) == traits
        h = jaxsched.hyperparams(state)
        lrs.append(float(h["learning_rate"]))
        b1s.append(float(h["b1"]))
    count = state.inner_opt_state.hyperparams_states["learning_rate"]
    assert int(count) == start + 4  # 8 micro-steps, 4 real updates
    assert count.hi.dtype == jnp.uint32 and not count.hi.weak_type
    # micro-steps 2, 4, 6, 8 are real updates at counts start .. start + 3; between them
    # the stored values are those of the last real update
    ks = [start, start, start + 1, start + 1, start + 2, start + 2, start + 3]
    assert_f32_contract(np.float32(lrs), _x64_values(s, ks), "lr", peak=0.1)
    assert_f32_contract(np.float32(b1s), _x64_values(s.momentum, ks), "b1")


def test_grouped_wide_count_and_monitor():
    s = jaxsched.step_lr(2**31 - 1, 0.5, lr=0.1)  # halves at 2**31-1 and at 2**32-2
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    g = jaxsched.param_groups(params, [jaxsched.Rule("b", lr_mult=2.0, decay=False)])
    tx = jaxsched.grouped(optax.identity(), g, lr=s, weight_decay=0.0, wide_count=True)
    inner, own = tx.init(params)
    assert isinstance(own.count, WideCount)
    state = (inner, own._replace(count=WideCount.of(2**32 - 3)))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(st):
        return tx.update({"w": jnp.ones(2), "b": jnp.ones(2)}, st, params)

    u, state = step(state)
    traits = _traits(state)
    assert float(u["w"][0]) == pytest.approx(-0.05) and float(u["b"][0]) == pytest.approx(-0.1)
    u, state = step(state)
    assert _traits(state) == traits
    assert float(u["w"][0]) == pytest.approx(-0.025) and int(state[1].count) == 2**32 - 1
    assert float(jaxsched.hyperparams(state)["learning_rate"][1]) == pytest.approx(0.025)
    with pytest.raises(TypeError, match=r"wide_count must be a bool"):
        jaxsched.grouped(optax.identity(), g, lr=s, wide_count=1)


def test_monitor_reads_a_wide_count_only_state():
    """A count-only state holding a WideCount: ``s(count - 1)``, with the borrow."""
    s = jaxsched.step_lr(2**31 - 1, 0.5, lr=1.0)
    for count, lr in ((2**32, 0.25), (2**32 - 2, 0.5), (0, 1.0)):
        st = optax.ScaleByScheduleState(count=WideCount.of(count))
        assert float(jaxsched.hyperparams(st, s)["learning_rate"]) == lr, count


def test_samples_clock_reaches_15t_tokens_without_x64():
    """DeepSeek-V3's scale: 15360 sequences of 4096 tokens per step, the lr a Megatron
    cosine in single tokens to 15T: exact at every token count (the clock in int64, the
    float32 contract of the x64 clock's value), where the int32 clock stops at 34 steps."""
    lr = jaxsched.megatron.lr_schedule(2.2e-4, 2.2e-5, 2000 * 15360 * 4096, 15 * 10**12,
                                       "cosine")
    args = (lr, 15360, [3072, 1536, 469 * 10**9 // 4096])
    s = jaxsched.samples_clock(*args, seq_length=4096, wide_count=True)
    narrow = jaxsched.samples_clock(*args, seq_length=4096)
    assert narrow.params["limit"][False] < 200
    assert s.params["limit"][False] == s.params["limit"][True] > 10**9
    iters, consumed, batches = jaxsched.rampup_table(*args[1:])
    # the first iteration with more than 15T tokens consumed before it
    last = iters[-1] + (15 * 10**12 // 4096 - consumed[-1]) // batches[-1] + 1
    steps = np.asarray([0, 1, 1000, 7450, 100_000, 235_000, last - 1, last, last + 1])
    ours = np.asarray(jax.jit(jax.vmap(s))(jnp.asarray(steps, jnp.int32)))
    with jax.enable_x64(True):
        ref_s = jaxsched.samples_clock(*args, seq_length=4096)
        tokens = [int(ref_s.params["consumed"](np.int64(k))) * 4096 for k in (last - 1, last)]
        ref = np.asarray(jax.vmap(ref_s)(np.asarray(steps, np.int64)))
    assert tokens[0] <= 15 * 10**12 < tokens[1]
    assert_f32_contract(ours, ref)
    assert ours[-1] == np.float32(2.2e-5) and ours[3] > ours[5] > ours[-1]
    # an iteration past int32, as a WideCount: the clock's x64 path
    assert float(s(WideCount.of(2**31 + 5))) == np.float32(2.2e-5)
    with pytest.raises(ValueError, match=r"count 1099511627776 is past 146601559959, the "
                                         r"last one whose clocked count fits in int64"):
        s(WideCount.of(2**40))  # 7e19 tokens: past int64, refused eagerly


def test_epoch_clock_wide_count():
    e = jaxsched.epoch_clock(jaxsched.step_lr(5, 0.5, lr=1.0), 391, 1000, wide_count=True)
    assert e.params["limit"][False] > 2**40
    ks = [0, 839666106, 839666107, 2**31 - 1]
    ours = np.asarray(jax.jit(jax.vmap(e))(jnp.asarray(ks, jnp.int32)))
    with jax.enable_x64(True):
        ref = jaxsched.epoch_clock(jaxsched.step_lr(5, 0.5, lr=1.0), 391, 1000)
        expect = np.asarray(jax.vmap(ref)(np.asarray(ks, np.int64))).astype(np.float32)
    np.testing.assert_array_equal(ours, expect)  # past the int32 clock's 839666106: no NaN
    with pytest.raises(TypeError, match=r"wide_count must be a bool"):
        jaxsched.epoch_clock(jaxsched.step_lr(5, 0.5, lr=1.0), 391, 1000, wide_count="yes")


def test_checkpoint_round_trip_exact(tmp_path):
    """The wide state through orbax (and pickle): restored bit-exact, the next update the
    same."""
    s = jaxsched.cosine_annealing_lr(2**31 - 1, lr=0.1)
    opt = jaxsched.scheduled(optax.sgd, s, wide_count=True)
    state = opt.init(jnp.zeros(2))
    state = state._replace(hyperparams_states={"learning_rate": WideCount.of(2**32 + 12345)})
    _, state = opt.update(jnp.ones(2), state)
    restored = pickle.loads(pickle.dumps(jax.device_get(state)))
    ocp = pytest.importorskip("orbax.checkpoint")
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "state", state)
        ckpt.wait_until_finished()
        from_disk = ckpt.restore(tmp_path / "state", state)
    for back in (restored, from_disk):
        w = back.hyperparams_states["learning_rate"]
        assert isinstance(w, WideCount) and int(w) == 2**32 + 12346
        chex.assert_trees_all_equal(jax.tree.leaves(back), jax.tree.leaves(state))
        u1, _ = opt.update(jnp.ones(2), state)
        u2, _ = opt.update(jnp.ones(2), back)
        chex.assert_trees_all_equal(u1, u2)


def test_eight_devices_wide_counts():
    """tests/wide_multidevice_check.py in a fresh process (8 fake CPU devices)."""
    import pathlib
    import subprocess
    import sys

    script = pathlib.Path(__file__).with_name("wide_multidevice_check.py")
    try:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=300)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{script.name} did not finish in 300 s (a hang in XLA:CPU's collectives?)"
                    f": {err.stdout!r} {err.stderr!r}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ALL OK" in out.stdout


def test_growth_at_wide_counts_within_float32_ulps():
    """A growth factor (``gamma > 1``, as a range test's) at counts past 2**32: the float32
    power is a product of eight exactly tabulated byte powers of the int64 count, within
    2.1e-7 relative of the exact power (one float32 ``pow`` would be y 2**-24 off)."""
    import mpmath

    gamma = 1 + 2.0**-40
    s = jaxsched.exponential_lr(gamma, lr=1e-3)
    ks = [0, 2**31 - 1, 2**32 - 1, 2**32, 2**40 + 3, 2**45, 2**45 + 2**33 + 5]
    w = WideCount(jnp.asarray([k >> 32 for k in ks], jnp.uint32),
                  jnp.asarray([k & (2**32 - 1) for k in ks], jnp.uint32))
    ours = np.asarray(jax.jit(jax.vmap(lambda h, lo: s(WideCount(h, lo))))(w.hi, w.lo))
    with mpmath.workdps(40):
        exact = [float(mpmath.mpf(1e-3) * mpmath.mpf(gamma) ** k) for k in ks]
    np.testing.assert_allclose(ours, exact, rtol=2.1e-7, atol=0)
    assert ours[-1] > 7e10  # e**32.x: far from 1, where a single pow's error shows
