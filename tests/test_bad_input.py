"""Nothing silent, nothing lost: every public callable, adapter, CLI subcommand and
``load_state_dict`` field given bad input raises a ``TypeError`` / ``ValueError`` (the CLI:
exit 2, one line on stderr, no traceback) whose message names the function, the argument
and the value; a refused ``load_state_dict`` leaves the adapter as it was."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from bad_input_cases import ADAPTERS, factory_cases, state_cases

import jaxsched
from jaxsched.tools import cli

FACTORY_CASES = factory_cases()
STATE_CASES = state_cases()


def test_the_suite_is_large():
    assert len(FACTORY_CASES) + len(STATE_CASES) + len(ADAPTER_CASES) + len(CLI_CASES) \
        + len(OTHER_CASES) >= 200


@pytest.mark.parametrize(("call", "exc", "match"), [c[1:] for c in FACTORY_CASES],
                         ids=[c[0] for c in FACTORY_CASES])
def test_factories_refuse(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(("make", "bad", "match"), [c[1:] for c in STATE_CASES],
                         ids=[c[0] for c in STATE_CASES])
def test_load_state_dict_refuses_and_keeps_state(make, bad, match):
    sched = make()
    before = (sched.state_dict(), sched.get_last_lr(), sched.param_groups)
    with pytest.raises((TypeError, ValueError), match=match):
        sched.load_state_dict(bad)
    assert repr((sched.state_dict(), sched.get_last_lr(), sched.param_groups)) == repr(before)


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_load_state_dict_takes_its_own_state(name):
    sched = ADAPTERS[name]()
    fresh = ADAPTERS[name]()
    fresh.load_state_dict(json.loads(json.dumps(sched.state_dict())))  # as a JSON checkpoint
    assert fresh.get_last_lr() == sched.get_last_lr()


SGD = [{"lr": 0.1, "momentum": 0.9}]
ADAPTER_CASES = [
    *[(f"{name}-optimizer-{label}", name, bad, exc, rf"jaxsched\.{name}: .*optimizer")
      for name in ("StepLR", "WarmupLR", "ReduceLROnPlateau", "CosineAnnealingLR")
      for label, bad, exc in [("str", "0.1", TypeError), ("bool", True, TypeError),
                              ("empty", [], ValueError), ("none", None, TypeError),
                              ("group-without-lr", [{"momentum": 0.9}], ValueError),
                              ("group-lr-str", [{"lr": "0.1"}], TypeError),
                              ("negative", -0.1, ValueError)]],
]
ADAPTER_ARGS = {"StepLR": dict(step_size=2), "WarmupLR": {}, "ReduceLROnPlateau": {},
                "CosineAnnealingLR": dict(T_max=5)}


@pytest.mark.parametrize(("name", "optimizer", "exc", "match"), [c[1:] for c in ADAPTER_CASES],
                         ids=[c[0] for c in ADAPTER_CASES])
def test_adapters_refuse_bad_optimizers(name, optimizer, exc, match):
    with pytest.raises(exc, match=match):
        getattr(jaxsched, name)(optimizer, **ADAPTER_ARGS[name])


@pytest.mark.parametrize(("make", "match"), [
    (lambda: jaxsched.StepLR(SGD, 2, gamma=math.inf), r"jaxsched\.StepLR: gamma must be "
                                                      r"finite, got inf"),
    (lambda: jaxsched.StepLR(SGD, 2, last_epoch="3"), r"jaxsched\.StepLR: last_epoch must be an "
                                                      r"integer, got '3'"),
    (lambda: jaxsched.StepLR(SGD, 2, last_epoch=-2), r"jaxsched\.StepLR: last_epoch must be in "
                                                     r"\[-1"),
    (lambda: jaxsched.CyclicLR(SGD, 0.01, 0.1, cycle_momentum="no"),
     r"jaxsched\.CyclicLR: cycle_momentum must be a bool, got 'no'"),
    (lambda: jaxsched.OneCycleLR(SGD, 0.1, total_steps=10, three_phase="no"),
     r"jaxsched\.OneCycleLR: three_phase must be a bool, got 'no'"),
    (lambda: jaxsched.ReduceLROnPlateau(SGD, min_lr=0.5),
     r"jaxsched\.ReduceLROnPlateau: min_lr \(group 0\) \(0.5\) must not exceed lr"),
    (lambda: jaxsched.ReduceLROnPlateau(SGD, min_lr=[0.01, 0.02]),
     r"jaxsched\.ReduceLROnPlateau: expected 1 min_lrs"),
    (lambda: jaxsched.ReduceLROnPlateau(SGD).step([1.0, 2.0]),
     r"jaxsched\.ReduceLROnPlateau\.step: metrics must be a real scalar .*got \[1.0, 2.0\]"),
    (lambda: jaxsched.ReduceLROnPlateau(SGD).step(jnp.ones(3)),
     r"jaxsched\.ReduceLROnPlateau\.step: metrics must be a real scalar .*shape \(3,\)"),
    (lambda: jaxsched.ReduceLROnPlateau(SGD).step("0.5"),
     r"jaxsched\.ReduceLROnPlateau\.step: metrics must be a real scalar .*got '0.5'"),
    (lambda: jaxsched.StepLR(SGD, 2).step("3"),
     r"jaxsched\.StepLR\.step: last_epoch must be an integer, got '3'"),
    (lambda: jaxsched.WarmupLR(SGD).step(2**63 - 1),
     r"jaxsched\.WarmupLR\.step: last_batch_iteration must be in \[-1, "
     r"9223372036854775806\]"),
    (lambda: jaxsched.StepLR(SGD, 2).apply(3),
     r"jaxsched\.StepLR\.apply: state has no injected hyperparameters"),
    (lambda: jaxsched.SequentialLR(SGD, [jaxsched.StepLR(SGD, 2),
                                         jaxsched.StepLR([{"lr": 0.5}], 2)], [2]),
     r"jaxsched\.SequentialLR: schedulers\[1\] \(StepLR\) was built on an optimizer with "
     r"lrs \[0\.5\], not this one's \[0\.1\]"),
    (lambda: jaxsched.SequentialLR(SGD, [jaxsched.StepLR(SGD, 2)] * 2, "2"),
     r"jaxsched\.sequential_lr: milestones must be a sequence of integers, got '2'"),
    (lambda: jaxsched.ChainedScheduler([]),
     r"jaxsched\.ChainedScheduler: schedulers must be a non-empty list"),
    (lambda: jaxsched.ChainedScheduler([jaxsched.StepLR(SGD, 2),
                                        jaxsched.ExponentialLR([{"lr": 0.5}], 0.9)]),
     r"jaxsched\.ChainedScheduler: schedulers\[1\] \(ExponentialLR\) was built on an "
     r"optimizer with lrs \[0\.5\], not this one's \[0\.1\]"),
], ids=lambda x: None)
def test_adapters_refuse(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def loss(p, b):
    return jnp.sum((p - b) ** 2)


OTHER_CASES = [
    ("plateau-vector", lambda: jaxsched.reduce_lr_on_plateau(0.1).update(
        jnp.ones(2), jaxsched.reduce_lr_on_plateau(0.1).init(jnp.ones(2)), value=jnp.ones(3)),
     TypeError, r"jaxsched\.reduce_lr_on_plateau: value must be a real scalar .*shape \(3,\)"),
    ("plateau-floor-above", lambda: jaxsched.reduce_lr_on_plateau(0.1, min_lr=0.2), ValueError,
     r"jaxsched\.reduce_lr_on_plateau: min_lr \(0.2\) must not exceed lr \(0.1\)"),
    ("plateau-mode", lambda: jaxsched.reduce_lr_on_plateau(0.1, mode="mn"), ValueError,
     r"jaxsched\.reduce_lr_on_plateau: mode must be one of \('min', 'max'\), got 'mn' "
     r"\(did you mean 'min'\?\)"),
    ("per-group-empty", lambda: jaxsched.per_group(jaxsched.warmup_lr, warmup_max_lr=[]),
     ValueError, r"jaxsched\.warmup_lr: expected at least one param group"),
    ("per-group-mismatch", lambda: jaxsched.per_group(jaxsched.warmup_lr,
                                                      warmup_max_lr=[0.1, 0.2],
                                                      warmup_min_lr=[0.0]),
     ValueError, r"jaxsched\.warmup_lr: expected 2 values for warmup_min_lr"),
    ("scheduled-factory", lambda: jaxsched.scheduled(3, 0.1), TypeError,
     r"jaxsched\.scheduled: factory must be an optax optimizer factory"),
    ("scheduled-str", lambda: jaxsched.scheduled(optax.sgd, "0.1"), TypeError,
     r"jaxsched\.scheduled: schedule must be a real number, got '0.1'"),
    ("scheduled-negative", lambda: jaxsched.scheduled(optax.sgd, -0.1), ValueError,
     r"jaxsched\.scheduled: schedule must be >= 0, got -0.1"),
    ("schedule-fn", lambda: jaxsched.Schedule(3), TypeError,
     r"jaxsched\.Schedule: fn must be callable, got 3"),
    ("get-scheduler-name", lambda: jaxsched.get_scheduler("cosin", 0.1, 1, 10), ValueError,
     r"jaxsched\.get_scheduler: name must be one of .*got 'cosin' \(did you mean 'cosine'\?\)"),
    ("get-scheduler-kwarg", lambda: jaxsched.get_scheduler("cosine", 0.1, 1, 10,
                                                           {"num_cylces": 1}),
     TypeError, r"unknown scheduler_specific_kwargs for 'cosine': \['num_cylces'\] "
                 r"\(did you mean 'num_cycles'\?\)"),
    ("get-scheduler-kwargs-type", lambda: jaxsched.get_scheduler("cosine", 0.1, 1, 10, [1]),
     TypeError, r"jaxsched\.get_scheduler: scheduler_specific_kwargs must be a dict"),
    ("ds-config-type", lambda: jaxsched.from_deepspeed_config(
        {"scheduler": {"type": "WarmupLRR", "params": {}}}), ValueError,
     r"jaxsched\.from_deepspeed_config: scheduler type must be one of .*got 'WarmupLRR' "
     r"\(did you mean 'WarmupLR'\?\)"),
    ("ds-config-bool-str", lambda: jaxsched.from_deepspeed_config(
        {"scheduler": {"type": "LRRangeTest", "params": {"lr_range_test_staircase": "false"}}}),
     TypeError, r"jaxsched\.LRRangeTest: lr_range_test_staircase must be a bool, got 'false'"),
    ("ds-config-needs-lr", lambda: jaxsched.from_deepspeed_config(
        {"scheduler": {"type": "WarmupCosineLR", "params": {"total_num_steps": 10}}}),
     ValueError, r"jaxsched\.from_deepspeed_config: no optimizer= given"),
    ("one-cycle-momentum-overflow", lambda: jaxsched.one_cycle(
        0.01, 0.1, decay_mom_rate=1e300, decay_step_size=1), ValueError,
     r"jaxsched\.one_cycle: the momentum .* reaches .* at count 2\*\*31-1, past float32"),
    ("lr-range-overflow", lambda: jaxsched.lr_range_test(1.0, 1, 1e300), ValueError,
     r"jaxsched\.lr_range_test: .* reaches .* at count 2\*\*31-1, past float32"),
    ("deepseek-v3-order", lambda: jaxsched.presets.deepseek_v3_steps(10000, final_lr=1e-3),
     ValueError,
     r"jaxsched\.presets\.deepseek_v3_steps: final_lr \(0.001\) must not exceed decayed_lr"),
    ("cosine-floor-negative", lambda: jaxsched.cosine_annealing_lr(10, -0.2, lr=0.1),
     ValueError, r"jaxsched\.cosine_annealing_lr: eta_min must be >= 0, got -0.2"),
    ("cyclic-gamma-zero", lambda: jaxsched.cyclic_lr(0.01, 0.1, 4, mode="exp_range", gamma=0.0),
     ValueError, r"jaxsched\.cyclic_lr: gamma must be > 0, got 0.0"),
    ("one-cycle-lr-div-zero", lambda: jaxsched.one_cycle_lr(0.1, 10, div_factor=0.0),
     ValueError, r"jaxsched\.one_cycle_lr: div_factor must be nonzero"),
    ("traced-setting", lambda: __import__("jax").jit(
        lambda x: jaxsched.step_lr(3, lr=x)(0))(0.1), TypeError,
     r"jaxsched\.step_lr: lr must be a concrete number, got a traced value"),
    ("array-setting", lambda: jaxsched.step_lr(3, lr=np.ones(2)), TypeError,
     r"jaxsched\.step_lr: lr must be a real number, got array\(\[1., 1.\]\)"),
    ("bool-array-setting", lambda: jaxsched.step_lr(3, lr=np.bool_(True)), TypeError,
     r"jaxsched\.step_lr: lr must be a real number, got np.True_"),
    ("find-lr-order", lambda: jaxsched.find_lr(loss, jnp.zeros(2), [jnp.ones(2)] * 5,
                                               start_lr=1.0, end_lr=0.1),
     ValueError, r"jaxsched\.find_lr: need 0 < start_lr < end_lr, got start_lr=1.0"),
    ("find-lr-mode", lambda: jaxsched.find_lr(loss, jnp.zeros(2), [jnp.ones(2)] * 5,
                                              mode="expo"),
     ValueError, r"jaxsched\.find_lr: mode must be one of \('exp', 'linear'\), got 'expo'"),
    ("find-lr-beta", lambda: jaxsched.find_lr(loss, jnp.zeros(2), [jnp.ones(2)] * 5, beta=1.5),
     ValueError, r"jaxsched\.find_lr: beta must be in \[0, 1\), got 1.5"),
    ("from-torch", lambda: jaxsched.from_torch(3), TypeError,
     r"jaxsched\.from_torch: scheduler must be a torch\.optim\.lr_scheduler"),
]


@pytest.mark.parametrize(("call", "exc", "match"), [c[1:] for c in OTHER_CASES],
                         ids=[c[0] for c in OTHER_CASES])
def test_other_callables_refuse(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _config(tmp_path, config):
    path = tmp_path / "ds.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return str(path)


PLATEAU = {"optimizer": {"params": {"lr": 0.1}},
           "scheduler": {"type": "ReduceLROnPlateau", "params": {}}}
CLI_CASES = [
    ("list-extra", ["list", "StepLR"], "unrecognized arguments"),
    ("plot-nothing", ["plot"], "required"),
    ("plot-unknown", ["plot", "StepLRR", "step_size=2"], r"did you mean 'StepLR'"),
    ("plot-unknown-setting", ["plot", "StepLR", "step_sze=2"], r"did you mean 'step_size'"),
    ("plot-bad-value", ["plot", "StepLR", "step_size=x"], r"step_size must be an integer"),
    ("plot-bool-string", ["plot", "OneCycleLR", "max_lr=0.1", "total_steps=10",
                          "three_phase=no"], r"three_phase must be a bool, got 'no'"),
    ("plot-setting-first", ["plot", "step_size=2"], r"must follow a schedule name"),
    ("plot-steps-zero", ["plot", "StepLR", "step_size=2", "--steps", "0"], r"--steps must be"),
    ("plot-steps-huge", ["plot", "StepLR", "step_size=2", "--steps", "10000000000"],
     r"--steps must be in \[1, 10000000\]"),
    ("plot-steps-text", ["plot", "StepLR", "step_size=2", "--steps", "ten"], r"invalid int"),
    ("plot-output-format", ["plot", "StepLR", "step_size=2", "-o", "{tmp}/x.txt"],
     r"Format 'txt' is not supported"),
    ("plot-output-under-file", ["plot", "StepLR", "step_size=2", "-o", "{tmp}/file/x.png"],
     r"exists|Not a directory"),
    ("plot-python-only", ["plot", "ReduceLROnPlateau"], r"takes other schedulers or a metric"),
    ("compare-two", ["compare", "StepLR", "step_size=2", "ExponentialLR", "gamma=0.9"],
     r"compare takes one schedule"),
    ("compare-nothing", ["compare"], r"give a schedule"),
    ("compare-case", ["compare", "--case", "nope"], r"no stored case 'nope'"),
    ("compare-preset", ["compare", "wsd", "peak_lr=0.1", "total_steps=100"],
     r"preset: there is no original library"),
    ("compare-config-missing", ["compare", "--config", "{tmp}/none.json"], r"cannot read"),
    ("compare-config-json", ["compare", "--config", "CONFIG:{"], r"not valid JSON"),
    ("compare-config-plateau", ["compare", "--config", "CONFIG:" + json.dumps(PLATEAU)],
     r"ReduceLROnPlateau follows a metric"),
    ("compare-config-auto", ["compare", "--config", "CONFIG:" + json.dumps(
        {"scheduler": {"type": "WarmupLR", "params": {"warmup_max_lr": "auto"}}})],
     r"\"auto\""),
    ("parity-family", ["parity", "--family", "tensorflow"], r"invalid choice"),
    ("parity-draws", ["parity", "--draws", "-1"], r"--draws must be in \[0, 1000\]"),
    ("parity-seed", ["parity", "--seed", "-3"], r"--seed >= 0"),
    ("no-command", [], r"required"),
    ("unknown-command", ["plott"], r"invalid choice"),
]


@pytest.mark.parametrize(("argv", "match"), [c[1:] for c in CLI_CASES],
                         ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_in_one_line(argv, match, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    args = []
    for a in argv:
        if a.startswith("CONFIG:"):
            a = _config(tmp_path, a.removeprefix("CONFIG:"))
        args.append(a.replace("{tmp}", str(tmp_path)))
    try:
        status = cli.main(args)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert re.search(match, err), err


def test_cli_as_a_process_prints_no_traceback():
    out = subprocess.run([sys.executable, "-m", "jaxsched", "plot", "StepLR", "gamma=2"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "jaxsched plot: error: jaxsched.StepLR.__init__() missing 1 required positional "
        "argument: 'step_size'"] or "gamma must be in [0, 1]" in out.stderr
    assert "Traceback" not in out.stderr


def test_nan_and_inf_everywhere_a_number_goes():
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match=r"must be finite"):
            jaxsched.WarmupLR(SGD, warmup_max_lr=bad)
