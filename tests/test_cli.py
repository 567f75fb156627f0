"""The ``jaxsched`` command: every subcommand, its --help, its pictures and exit codes."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from jaxsched.tools import catalog, cli, cli_compare, parity

from helpers import require


def run(*args, cwd=None):
    """The installed console script, as a user runs it."""
    script = pathlib.Path(sys.executable).with_name("jaxsched")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "jaxsched"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_console_script_is_installed():
    assert pathlib.Path(sys.executable).with_name("jaxsched").exists()


def test_help_from_the_console_script():
    out = run("--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: jaxsched")


@pytest.mark.parametrize("command", [[], ["list"], ["plot"], ["compare"], ["parity"]],
                         ids=["top", "list", "plot", "compare", "parity"])
def test_help_on_every_command(command, capsys):
    """In this process (the console script's own --help is above: one start-up, not five)."""
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: jaxsched")


def test_list_shows_every_schedule_with_its_origin(capsys):
    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    for name, entry in catalog.ENTRIES.items():
        line = next(x for x in text.splitlines() if x.split()[:1] == [name])
        assert entry.origin in line
    for origin in (catalog.TORCH, catalog.DEEPSPEED, catalog.HF, catalog.PRESET):
        assert origin in text


def test_every_listed_example_plots(tmp_path):
    """The example settings shown by `list` are valid for every CLI schedule."""
    for name, entry in catalog.ENTRIES.items():
        if entry.cli:
            args = [a for a in entry.example.split() if a]
            curve = cli.evaluate(catalog.build(name, dict(
                (k, cli.parse_value(v)) for k, v in (a.split("=", 1) for a in args))), 50)
            assert np.all(np.isfinite(curve["lr"])), name


def test_plot_overlays_several_names(tmp_path, capsys):
    status = cli.main(["plot", "OneCycleLR", "max_lr=0.1", "total_steps=500",
                       "CosineAnnealingLR", "T_max=500", "deepseek-llm", "total_steps=500",
                       "warmup_steps=50", "peak_lr=0.1", "--steps", "600", "-o",
                       str(tmp_path / "c.png")])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert (tmp_path / "c.png").stat().st_size > 20_000
    assert "OneCycleLR max_lr=0.1 total_steps=500: lr from" in out.out


def test_plot_default_output_goes_to_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = cli.main(["plot", "hf:linear", "num_warmup_steps=10", "num_training_steps=100"])
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "plot-hf-linear.png").exists()


@pytest.mark.parametrize("spec", [
    ["OneCycleLR", "max_lr=0.1", "total_steps=300"],
    ["WarmupCosineLR", "total_num_steps=300", "warmup_num_steps=30", "lr=0.001"],
    ["OneCycle", "cycle_min_lr=0.01", "cycle_max_lr=0.1", "cycle_first_step_size=100"],
    ["hf:cosine_with_restarts", "num_warmup_steps=10", "num_training_steps=250",
     "num_cycles=3"],
    ["MultiStepLR", "milestones=[50,100]", "gamma=0.3"],
], ids=["torch", "deepspeed", "deepspeed_momentum", "transformers", "list_value"])
def test_compare_live_within_tolerance(spec, tmp_path, capfd):
    """In this process (the reference libraries imported once for all five), its output
    captured at the file descriptors, where DeepSpeed's logger writes."""
    require("torch")
    require("deepspeed")
    require("transformers")
    status = cli.main(["compare", *spec, "--steps", "400", "-o", str(tmp_path / "cmp.png")])
    out, err = capfd.readouterr()
    assert status == 0, out + err
    assert "(live)" in out
    assert re.search(r"lr: ours vs exact \S+ rel \(worst at step \d+\), reference vs exact "
                     r"\S+ rel, ours vs reference \S+ rel  within tolerance", out)
    assert "verdict: within tolerance" in out
    assert (tmp_path / "cmp.png").stat().st_size > 20_000
    assert "WARNING" not in err


def test_compare_float32(capsys, tmp_path):
    require("torch")
    status = cli.main(["compare", "CosineAnnealingLR", "T_max=100", "--steps", "1000",
                       "--float32", "-o", str(tmp_path / "c.png")])
    assert status == 0
    out = capsys.readouterr().out
    assert re.search(r"lr: ours vs exact \S+ of peak .* within tolerance", out)
    assert "verdict: within tolerance" in out


def test_compare_torch_drift_is_the_references_own(capsys, tmp_path):
    """torch's recursive CosineAnnealingLR drifts past 1e-12 from the exact cosine over 5000
    steps; ours stays exact, so the comparison passes and reports torch's drift."""
    require("torch")
    status = cli.main(["compare", "CosineAnnealingLR", "T_max=100", "lr=0.1", "--steps",
                       "5000", "-o", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert status == 0, out
    found = re.search(r"ours vs exact (\S+) rel .*reference vs exact (\S+) rel", out)
    assert float(found[1]) < 1e-15 and float(found[2]) > 1e-12, out


@pytest.mark.parametrize(("who", "status"), [("ours", 1), ("reference", 0)])
def test_compare_a_ppm_off_fails_only_when_it_is_ours(who, status, monkeypatch, capsys,
                                                       tmp_path):
    """Ours a ppm off the exact curve fails; a reference a ppm off does not fail a correct
    schedule: the three-way rule shows whose error it is."""
    module, name = (cli_compare, "evaluate") if who == "ours" else (catalog, "reference_curve")
    real = getattr(module, name)

    def off_by_a_ppm(*args, **kwargs):
        return {k: v * (1 + 1e-6) for k, v in real(*args, **kwargs).items()}

    monkeypatch.setattr(module, name, off_by_a_ppm)
    got = cli.main(["compare", "StepLR", "step_size=10", "--steps", "50", "-o",
                    str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert got == status, out
    if who == "ours":
        assert "PAST TOLERANCE" in out
    else:
        assert re.search(r"reference vs exact 1\.0\d*e-06 rel", out), out


def test_compare_without_the_library_uses_a_stored_case(monkeypatch, capsys, tmp_path):
    def missing(*args, **kwargs):
        raise ImportError("No module named 'torch'")

    monkeypatch.setattr(catalog, "reference_curve", missing)
    case = next(c for c in parity.load_cases("torch") if c["name"] == "step")
    settings = [f"{k}={json.dumps(v)}" for k, v in case["kwargs"].items()]
    status = cli.main(["compare", "StepLR", *settings, f"lr={case['groups'][0]['lr']}",
                       "-o", str(tmp_path / "c.png")])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "reference: stored" in out.out
    status = cli.main(["compare", "StepLR", "step_size=12345", "-o", str(tmp_path / "d.png")])
    assert status == 2
    assert "not installed and no stored reference case" in capsys.readouterr().err


def test_compare_config(tmp_path, monkeypatch, capsys):
    require("deepspeed")
    config = {"optimizer": {"type": "AdamW", "params": {"lr": 3e-4, "betas": [0.9, 0.95]}},
              "scheduler": {"type": "WarmupDecayLR", "params": {
                  "total_num_steps": 300, "warmup_max_lr": 3e-4, "warmup_num_steps": 30}}}
    path = tmp_path / "ds_config.json"
    path.write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path)
    status = cli.main(["compare", "--config", str(path), "--steps", "350"])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    assert "ds_config.json: WarmupDecayLR" in out.out
    assert (tmp_path / "out" / "compare-ds_config.png").exists()


@pytest.mark.parametrize(("scheduler", "optimizer"), [
    ({"type": "WarmupCosineLR", "params": {"total_num_steps": 200, "warmup_num_steps": 20}},
     {"type": "Adam", "params": {"lr": 1e-3}}),  # the peak is the optimizer's lr, not 0.0
    ({"type": "LRRangeTest", "params": {"lr_range_test_min_lr": 1e-3,
                                        "lr_range_test_step_size": 10}}, None),
    ({"type": "OneCycle", "params": {"cycle_min_lr": 1e-3, "cycle_max_lr": 1e-2,
                                     "cycle_first_step_size": 50, "cycle_momentum": False}},
     None),
], ids=["warmup-cosine-with-optimizer", "range-test-no-optimizer", "one-cycle-no-optimizer"])
def test_compare_config_reference_from_the_configs_optimizer(tmp_path, capsys, scheduler,
                                                              optimizer):
    """The reference optimizer is built as the config says (WarmupCosineLR's DeepSpeed curve
    was all zeros when built from the lr in force at step 0); without an optimizer section
    the schedulers that set their own lr still compare."""
    require("deepspeed")
    config = {"scheduler": scheduler} | ({"optimizer": optimizer} if optimizer else {})
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(config))
    status = cli.main(["compare", "--config", str(path), "--steps", "200", "-o",
                       str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "within tolerance" in out or "ok" in out


def test_compare_stored_case(capsys, tmp_path):
    assert cli.main(["compare", "--case", "cosine_restarts_exact", "-o",
                     str(tmp_path / "c.png")]) == 0
    assert "stored case cosine_restarts_exact" in capsys.readouterr().out


def test_parity_table(capsys):
    # one draw per schedule: the draws path itself (three draws each: bench/PARITY-cpu.md)
    assert cli.main(["parity", "--family", "deepspeed", "--draws", "1"]) == 0
    text = capsys.readouterr().out
    assert "deepspeed: 39 stored reference cases" in text and "all within tolerance" in text
    for name in ("LRRangeTest", "OneCycle", "WarmupLR", "WarmupDecayLR", "WarmupCosineLR"):
        assert name in text


BAD = [
    ("unknown_name", ["plot", "CosineLR"], "unknown schedule 'CosineLR'"),
    ("setting_first", ["plot", "gamma=0.5"], "must follow a schedule name"),
    ("bad_key", ["plot", "StepLR", "step size=3"], "is not a parameter name"),
    ("bad_value", ["plot", "StepLR", "step_size=0"], r"jaxsched.StepLR: step_size must be in"),
    ("missing_setting", ["plot", "StepLR"], "jaxsched.StepLR.__init__.. missing 1 required"),
    ("unknown_setting", ["plot", "StepLR", "step_size=2", "gama=0.5"],
     "unknown setting 'gama' \\(did you mean 'gamma'\\?\\)"),
    ("api_only", ["plot", "SequentialLR"], "takes other schedulers or a metric"),
    ("preset_compare", ["compare", "wsd", "peak_lr=0.1", "total_steps=10"],
     "no original library to compare with"),
    ("two_compare", ["compare", "StepLR", "step_size=2", "ExponentialLR", "gamma=0.9"],
     "compare takes one schedule"),
    ("nothing", ["compare"], "give a schedule"),
    ("unknown_case", ["compare", "--case", "nope"], "no stored case 'nope'"),
    ("bad_lambda", ["plot", "LambdaLR", "lr_lambda=square"], "lr_lambda must name one of"),
    ("bad_config", ["compare", "--config", "/nonexistent.json"], "cannot read config"),
]


@pytest.mark.parametrize("args,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_a_message(args, match, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxsched {args[0]}: error: ")
    assert pytest.importorskip("re").search(match, err), err


def test_argparse_errors_exit_2(capsys):
    for args, message in ([["plot", "StepLR", "step_size=2", "--steps", "0"],
                           "--steps must be in [1, 10000000]"],
                          [["frobnicate"], "invalid choice"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(args)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err
        assert len(err.strip().splitlines()) == 1, err
