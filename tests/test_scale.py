"""Schedules at frontier scale: phases of 1 to 10**12 steps, each drawn log-uniformly and
independently (``jaxsched.tools.draws`` with ``max_phase=10**12``), lrs 1e-8..10, counts
log-uniform up to 2**53 plus 0, every phase boundary -1/0/+1, 2**31-1, 2**31, 2**32, far
past the end and 2**53-1. Three ways in x64: ours (jitted, vmapped on int64 counts) against
the origin's 50-digit oracle and against the LIVE reference evaluated at the same count
(torch's closed form or ``get_lr`` at ``last_epoch = k``, ``transformers``' ``lr_lambda(k)``,
DeepSpeed's ``step(k - 1)``), judged by ``jaxsched.tools.parity.judge``. Without x64: within
2e-6 of the peak at every int32 count when every phase fits int32, else a ``ValueError`` at
trace time naming the limit and the ways out. Adapters step and exchange state dicts at
Python-int counts past int32."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxsched
from jaxsched.core import checks
from jaxsched.pytorch.cyclic_adapters import restart_position
from jaxsched.tools import draws, oracle, parity

from helpers import require

torch = require("torch")
require("transformers")
import live as ref_live  # noqa: E402  (tests/reference, after torch is known to import)

ORIGINS = {
    "torch": ["step_lr", "multi_step_lr", "constant_lr", "linear_lr", "exponential_lr",
              "polynomial_lr", "cosine_annealing_lr", "cosine_annealing_warm_restarts",
              "cyclic_lr", "one_cycle_lr"],
    "huggingface": [k for k in draws.DRAWS if k.startswith("hf.")],
    "deepspeed": ["lr_range_test", "one_cycle", "warmup_lr", "warmup_decay_lr",
                  "warmup_cosine_lr"],
    "megatron": ["megatron.lr_schedule", "megatron.wd_schedule"],
    "timm": [k for k in draws.DRAWS if k.startswith("timm.")],
    "keras": [k for k in draws.DRAWS if k.startswith("keras.")],
}
FIXED = [0, 1, 2**31 - 1, 2**31, 2**32, 2**53 - 1]
TOP32 = 2**31 - 1
LIMIT = r"past int32's 2\*\*31-1.*enable x64.*a wide count \(jaxsched\.core\.wide\)"


def draw_at_scale(name: str, seed: int) -> tuple[jaxsched.Schedule, list[int]]:
    """A configuration of ``name`` with phases drawn up to 10**12, and its boundaries."""
    rng = np.random.default_rng(seed)
    draws._LIMIT[0] = 10**12
    try:
        return draws.DRAWS[name](rng)
    finally:
        draws._LIMIT[0] = 10**6


def counts_for(boundaries: list[int], far: list[float]) -> list[int]:
    ends = [b for b in boundaries if b >= 0]
    out = set(FIXED) | {int(2**x) for x in far}
    out |= {b + d for b in ends for d in (-1, 0, 1)}
    out |= {10 * max(ends, default=1) + 7}
    return sorted(k for k in out if 0 <= k <= checks.MAX_EXACT)


def phase_ends(s: jaxsched.Schedule) -> int:
    """The largest phase length or boundary a schedule holds (what an int32 count must be
    able to reach), from its validated params."""
    p = s.params
    ints = [v for v in p.values() if isinstance(v, int) and not isinstance(v, bool)]
    ints += [m for v in p.values() if isinstance(v, list) for m in v if isinstance(m, int)]
    if s.name == "jaxsched.cyclic_lr":
        ints.append(p["step_size_up"] + p["step_size_down"])
    if s.name == "jaxsched.one_cycle":
        s1, s2 = p["cycle_first_step_size"], p["cycle_second_step_size"]
        ints += [s1 + s2, s1 * p["cycle_first_stair_count"],
                 s2 * p["cycle_second_stair_count"]]
    if s.name.startswith("jaxsched.get_scheduler("):
        ints = [v for v in (p["num_warmup_steps"], p["num_training_steps"]) if v is not None]
        if p["name"] == "constant":
            ints = []
    if s.name.startswith("jaxsched.timm."):
        d = p.get("decay_t", 0)
        ints = [p.get("t_initial", 0), p["warmup_t"]]
        ints += [math.ceil(m) - 1 for m in d] if isinstance(d, list) else [d]
    if s.name.startswith("jaxsched.keras."):
        ints = []  # Keras's steps are real numbers: its formulas take any count, unrefused
    if s.name == "jaxsched.megatron.lr_schedule":
        ints = [p["lr_decay_steps"]]
    if s.name == "jaxsched.megatron.wd_schedule":
        ints = [p["wd_incr_steps"]]
    return max(ints, default=0)


def _quiet(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(f(*args))
        except (OverflowError, ValueError, ZeroDivisionError):
            return math.nan  # the reference cannot evaluate there (e.g. 2.0 ** 1025)


def reference(s: jaxsched.Schedule, ks: list[int]) -> np.ndarray | None:
    """The live reference's lr at each count (NaN where it cannot evaluate), or None."""
    if s.name.startswith("jaxsched.keras."):  # Keras's float32 step, jitted, to int32
        # (as tests/keras_live.py evaluates it: Keras computes in float32)
        from jaxsched.tools import catalog

        small = [k for k in ks if k <= TOP32]
        theirs = getattr(catalog.import_keras_schedules(),
                         s.name.removeprefix("jaxsched.keras."))(**s.params)
        with jax.enable_x64(False):
            values = np.asarray(jax.jit(jax.vmap(theirs))(np.asarray(small, np.int32)))
        out = dict(zip(small, values.astype(np.float64), strict=True))
        return np.asarray([out.get(k, math.nan) for k in ks])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = ref_live.scheduler(s)
    if built is None:
        return None
    opt, sched = built
    name = s.name
    if name.startswith("jaxsched.get_scheduler("):
        base = s.params["lr"]
        return np.asarray([_quiet(lambda k: base * sched.lr_lambdas[0](k), k) for k in ks])
    if name.startswith("jaxsched.timm."):  # timm's own formula at update k
        return np.asarray([_quiet(lambda k: sched.sched._get_lr(k)[0], k) if k > 0
                           else math.nan for k in ks])
    if name in ref_live.DEEPSPEED:
        def at(k):
            sched.step(k - 1)
            return opt.param_groups[0]["lr"]
        return np.asarray([_quiet(at, k) if k > 0 else math.nan for k in ks])
    cls = ref_live.TORCH[name]

    def torch_at(k):
        sched.last_epoch = k
        if hasattr(sched, "_get_closed_form_lr") and cls != "CosineAnnealingWarmRestarts":
            return sched._get_closed_form_lr()[0]
        if cls == "OneCycleLR" and k > sched.total_steps:
            return math.nan  # torch raises past total_steps
        if cls == "CosineAnnealingWarmRestarts":
            sched.T_cur, sched.T_i = restart_position(k, sched.T_0, sched.T_mult)
        return sched.get_lr()[0]

    return np.asarray([_quiet(torch_at, k) for k in ks])


def check_x64(s: jaxsched.Schedule, ks: list[int], with_reference: bool) -> None:
    with jax.enable_x64(True):
        ours = {"lr": np.asarray(jax.jit(jax.vmap(s))(jnp.asarray(ks, jnp.int64)))}
        if s.momentum is not None:
            ours["momentum"] = np.asarray(jax.jit(jax.vmap(s.momentum))(
                jnp.asarray(ks, jnp.int64)))
    for key, values in ours.items():
        exact = oracle.exact_values(s if key == "lr" else s.momentum, ks)
        assert exact is not None, s
        ref = reference(s, ks) if with_reference and key == "lr" else None
        if ref is not None:
            has = np.isfinite(ref)
            verdict = parity.judge(values[has], exact[has], ref[has], x64=True,
                                   steps=np.asarray(ks)[has])
            assert verdict.ok, (key, s, verdict)
        verdict = parity.judge(values, exact, x64=True, steps=ks)
        if not verdict.ok and ref is not None:  # no further from exact than the reference
            verdict = parity.judge(values, exact, np.where(np.isfinite(ref), ref, exact),
                                   x64=True, steps=ks)
        assert verdict.ok, (key, s, verdict)


def check_x32(s: jaxsched.Schedule, ks: list[int]) -> None:
    """Without x64: the int32 counts within 2e-6 of the peak, or a trace-time ValueError."""
    small = [k for k in ks if k <= TOP32]
    f = jax.jit(jax.vmap(s))
    if phase_ends(s) > TOP32:
        with pytest.raises(ValueError, match=LIMIT):
            f(jnp.asarray(small, jnp.int32))
        return
    ours = np.asarray(f(jnp.asarray(small, jnp.int32)))
    exact = oracle.exact_values(s, small)
    peak = max(float(np.max(np.abs(oracle.exact_values(s, ks)))), 1e-300)  # of every count
    verdict = parity.judge(ours, exact, x64=False, peak=peak, steps=small)
    assert verdict.ok, (s, verdict)


SETTINGS = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
FAR = st.lists(st.floats(0, 53), min_size=2, max_size=4)


@pytest.mark.parametrize("origin", sorted(ORIGINS))
@SETTINGS
@given(data=st.data())
def test_phases_to_ten_to_the_12(origin, data):
    name = data.draw(st.sampled_from(ORIGINS[origin]), label="schedule")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    s, boundaries = draw_at_scale(name, seed)
    ks = counts_for(boundaries, data.draw(FAR, label="far"))
    check_x64(s, ks, with_reference=origin != "megatron")
    check_x32(s, ks)


@pytest.mark.parametrize("make", [
    lambda: jaxsched.cosine_annealing_lr(10**12, lr=0.1),
    lambda: jaxsched.cyclic_lr(0.01, 0.1, 2**30, 2**30 + 1),  # each fits, their sum not
    lambda: jaxsched.get_scheduler("linear", 0.1, num_warmup_steps=10,
                                   num_training_steps=2**31),
    lambda: jaxsched.warmup_decay_lr(2**33, 0.0, 0.1, 100),
    lambda: jaxsched.one_cycle(0.01, 0.1, cycle_first_step_size=2**20,
                               cycle_first_stair_count=2**12),  # stairs * size = 2**32
    lambda: jaxsched.megatron.lr_schedule(0.1, 0.0, 10, 2**31, "cosine"),
], ids=["torch", "torch-sum", "huggingface", "deepspeed", "deepspeed-stairs", "megatron"])
def test_past_int32_without_x64_raises_when_traced(make):
    """Built in either mode; traced at an int32 count, it raises (under jit too), naming the
    argument, the limit and the ways out; with x64 it evaluates."""
    s = make()
    with pytest.raises(ValueError, match=LIMIT):
        jax.jit(s)(5)
    with pytest.raises(ValueError, match=r"enable x64 \(jax\.config\.update"):
        s(5)
    with jax.enable_x64(True):
        assert math.isfinite(float(jax.jit(s)(2**40)))


@pytest.mark.parametrize("name, kw, limit", [
    ("T_max", dict(T_max=2**53), r"T_max must be in \[1, 9007199254740991\]"),
])
def test_phases_past_two_to_the_53_are_refused(name, kw, limit):
    with pytest.raises(ValueError, match=limit):
        jaxsched.cosine_annealing_lr(lr=0.1, **kw)
    assert jaxsched.cosine_annealing_lr(lr=0.1, T_max=2**53 - 1)


def _torch_opt(lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return torch.optim.SGD([p], lr=lr)


def test_warm_restarts_adapter_counts_to_two_to_the_63():
    """CosineAnnealingWarmRestarts resumes from torch's state at last_epoch past 2**40,
    steps, hands back to torch; at 2**63-1 one more step raises and changes nothing."""
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(_torch_opt(), 10**9, 2)
    t_cur, t_i = restart_position(2**40 + 3, 10**9, 2)
    state = dict(theirs.state_dict(), last_epoch=2**40 + 3, T_cur=t_cur, T_i=t_i)
    ours = jaxsched.CosineAnnealingWarmRestarts([{"lr": 0.1, "initial_lr": 0.1}], 10**9, 2)
    ours.load_state_dict(state)
    theirs.load_state_dict(state)
    for _ in range(3):
        ours.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step()
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12)
    assert ours.state_dict()["T_cur"] == theirs.state_dict()["T_cur"]
    top = jaxsched.CosineAnnealingWarmRestarts([{"lr": 0.1, "initial_lr": 0.1}], 7, 1,
                                               last_epoch=2**63 - 2)
    assert top.last_epoch == 2**63 - 1
    exact = oracle.exact_values(top.schedule, [2**63 - 1])[0]
    assert top.get_last_lr()[0] == pytest.approx(exact, rel=1e-12)
    with pytest.raises(OverflowError, match=r"at 2\*\*63-1"):
        top.step()
    assert top.last_epoch == 2**63 - 1


def test_deepspeed_adapter_counts_past_int32():
    """WarmupDecayLR of 10**12 steps: ours and DeepSpeed's jump to the same iterations past
    2**31 (DeepSpeed's ``step(last_batch_iteration)``), state dicts both ways."""
    from jaxsched.tools import catalog

    lrs = catalog.import_deepspeed_schedules()
    kw = dict(total_num_steps=10**12, warmup_min_lr=0.0, warmup_max_lr=0.1,
              warmup_num_steps=3 * 10**9, warmup_type="linear")
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    theirs = lrs.WarmupDecayLR(opt, **kw)
    ours = jaxsched.WarmupDecayLR([{"lr": 0.1, "betas": (0.9, 0.999)}], **kw)
    for it in (2**31 - 2, 2**32 + 5, 10**12 - 2, 10**12, 2**53):
        theirs.step(it)
        ours.load_state_dict(theirs.state_dict())
        assert ours.get_last_lr()[0] == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12,
                                                      abs=1e-300)
    ours.step()
    theirs.load_state_dict(ours.state_dict())
    assert theirs.last_batch_iteration == 2**53 + 1


def test_huggingface_adapter_counts_past_int32():
    """get_scheduler's adapter (a LambdaLR over transformers' factor) at counts past int32,
    against transformers' own lambda; the phases past int32 run on the host path, exact."""
    import transformers

    for t in (10**9, 10**12):
        ours = jaxsched.get_scheduler("cosine", [{"lr": 0.1}], num_warmup_steps=10**6,
                                      num_training_steps=t)
        theirs = transformers.get_scheduler("cosine", _torch_opt(), num_warmup_steps=10**6,
                                            num_training_steps=t)
        for k in (2**31 + 1, 2**32, t // 3, t - 1):
            ours.load_state_dict(dict(theirs.state_dict(), last_epoch=k - 1, _step_count=k))
            ours.step()
            assert ours.last_epoch == k
            want = 0.1 * theirs.lr_lambdas[0](k)
            assert ours.get_last_lr()[0] == pytest.approx(want, rel=1e-12, abs=1e-18)


def test_timm_adapter_counts_past_int32():
    """CosineLRScheduler over 10**12 updates with doubling restarts: ours and timm's own
    step_update at updates past int32 (against the oracle: timm's float log can land a
    cycle off at an exact restart); past 2**53-1 step_update raises and changes nothing."""
    from jaxsched.tools import catalog

    timm = catalog.import_timm_schedulers()
    kw = dict(t_initial=10**12, lr_min=1e-5, cycle_mul=2.0, cycle_limit=5,
              warmup_t=10**9, warmup_lr_init=1e-6, t_in_epochs=False)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    theirs = timm.CosineLRScheduler(opt, **kw)
    ours = jaxsched.timm.CosineLRScheduler([{"lr": 0.1}], **kw)
    for n in (2**31 + 1, 2**40, 3 * 10**12 + 5, 2**53 - 1):
        ours.step_update(n)
        theirs.step_update(n)
        exact = oracle.exact_values(ours.schedule, [n])[0]
        assert ours.get_last_lr()[0] == pytest.approx(exact, rel=1e-12)
        assert abs(ours.get_last_lr()[0] - exact) <= max(
            1e-12 * exact, abs(opt.param_groups[0]["lr"] - exact))
    with pytest.raises(OverflowError, match=r"num_updates=9007199254740992 exceeds 2\*\*53-1"):
        ours.step_update(2**53)
    assert ours.get_last_lr()[0] == pytest.approx(oracle.exact_values(ours.schedule,
                                                                      [2**53 - 1])[0])
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_a_timescale_past_int32_is_no_phase():
    """transformers' inverse_sqrt timescale is a scale, not a boundary: past int32 it is
    taken in both modes (floats without x64, a correctly rounded quotient with x64)."""
    s = jaxsched.get_scheduler("inverse_sqrt", 0.1, num_warmup_steps=1000,
                               scheduler_specific_kwargs={"timescale": 10**12})
    ks = [5, 1000, 10**6, 2**31 - 1]
    exact = oracle.exact_values(s, ks)
    ours32 = np.asarray(jax.jit(jax.vmap(s))(jnp.asarray(ks, jnp.int32)))
    assert parity.judge(ours32, exact, x64=False, steps=ks).ok
    with jax.enable_x64(True):
        far = [*ks, 2**40, 2**53 - 1, 2**62]
        ours64 = np.asarray(jax.jit(jax.vmap(s))(jnp.asarray(far, jnp.int64)))
    assert parity.judge(ours64, oracle.exact_values(s, far), x64=True, steps=far).ok
