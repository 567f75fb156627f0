"""from_deepspeed_config against DeepSpeed's own construction (the engine's
``_scheduler_from_config``: a DeepSpeed class by name, else torch's)."""

from __future__ import annotations

import json
import warnings

import pytest

import jaxsched

from helpers import require

CONFIGS = [
    ("warmup_lr", "Adam", {"type": "WarmupLR", "params": {
        "warmup_min_lr": 0.0, "warmup_max_lr": 0.001, "warmup_num_steps": 50}}),
    ("warmup_decay", "Adam", {"type": "WarmupDecayLR", "params": {
        "total_num_steps": 120, "warmup_min_lr": 1e-5, "warmup_max_lr": 0.002,
        "warmup_num_steps": 20, "warmup_type": "linear"}}),
    ("warmup_cosine", "AdamW", {"type": "WarmupCosineLR", "params": {
        "total_num_steps": 100, "warmup_num_steps": 10, "warmup_min_ratio": 0.1,
        "cos_min_ratio": 0.01}}),
    ("one_cycle", "Adam", {"type": "OneCycle", "params": {
        "cycle_min_lr": 1e-4, "cycle_max_lr": 1e-3, "cycle_first_step_size": 30,
        "decay_lr_rate": 0.01, "decay_step_size": 10, "cycle_min_mom": 0.85,
        "cycle_max_mom": 0.95}}),
    ("range_test", "SGD", {"type": "LRRangeTest", "params": {
        "lr_range_test_min_lr": 1e-4, "lr_range_test_step_size": 10,
        "lr_range_test_step_rate": 2.0, "lr_range_test_staircase": True}}),
    ("torch_step", "SGD", {"type": "StepLR", "params": {"step_size": 7, "gamma": 0.5}}),
    ("torch_cosine", "Adam", {"type": "CosineAnnealingLR", "params": {"T_max": 40,
                                                                      "eta_min": 1e-5}}),
]


def _config(opt_type, scheduler):
    params = {"lr": 0.001}
    if opt_type == "SGD":
        params["momentum"] = 0.9
    return {"train_batch_size": 8, "optimizer": {"type": opt_type, "params": params},
            "scheduler": scheduler}


@pytest.mark.parametrize("opt_type,scheduler", [c[1:] for c in CONFIGS],
                         ids=[c[0] for c in CONFIGS])
def test_config_matches_deepspeed_construction(opt_type, scheduler, tmp_path):
    torch = require("torch")
    require("deepspeed")
    from deepspeed.runtime import lr_schedules

    config = _config(opt_type, scheduler)
    path = tmp_path / "ds_config.json"
    path.write_text(json.dumps(config))
    ours = jaxsched.from_deepspeed_config(path)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = (torch.optim.SGD([param], lr=0.001, momentum=0.9) if opt_type == "SGD"
           else torch.optim.Adam([param], lr=0.001))
    name = scheduler["type"]
    cls = (getattr(lr_schedules, name) if hasattr(lr_schedules, name)
           else getattr(torch.optim.lr_scheduler, name))
    ref = cls(opt, **scheduler["params"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(150):
            assert ours.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"],
                                                               rel=1e-12, abs=1e-300)
            if name == "OneCycle":
                assert ours.param_groups[0]["betas"][0] == pytest.approx(
                    opt.param_groups[0]["betas"][0], rel=1e-12)
            opt.step()
            ref.step()
            ours.step()


def test_explicit_optimizer_overrides_the_config():
    cfg = _config("Adam", CONFIGS[0][2])
    sched = jaxsched.from_deepspeed_config(cfg, optimizer=[0.5, 0.25])
    assert len(sched.param_groups) == 2


BAD = [
    ("no_scheduler", {"optimizer": {"params": {"lr": 0.1}}}, ValueError,
     "has no \"scheduler\""),
    ("unknown_type", _config("Adam", {"type": "Noam", "params": {}}), ValueError,
     "scheduler type must be one of"),
    ("lambda_type", _config("Adam", {"type": "LambdaLR", "params": {}}), ValueError,
     "scheduler type must be one of"),
    ("no_params", _config("Adam", {"type": "WarmupLR"}), ValueError, "needs a \"params\" dict"),
    ("auto", _config("Adam", {"type": "WarmupLR", "params": {"warmup_max_lr": "auto"}}),
     ValueError, r"\"auto\" for \['warmup_max_lr'\]"),
    ("unknown_param", _config("Adam", {"type": "WarmupLR", "params": {"warmup_steps": 5}}),
     TypeError, "scheduler 'WarmupLR' params \\['warmup_steps'\\]"),
    ("no_lr", {"scheduler": {"type": "WarmupCosineLR", "params": {"total_num_steps": 10}}},
     ValueError,
     "no optimizer= given"),
    ("not_a_dict", 42, TypeError, "config must be a dict or a path"),
    ("missing_file", "/nonexistent/ds_config.json", ValueError, "cannot read config"),
]


@pytest.mark.parametrize("config,error,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_raises(config, error, match):
    with pytest.raises(error, match=f"jaxsched.from_deepspeed_config: .*{match}"):
        jaxsched.from_deepspeed_config(config)


def test_invalid_json_file_raises(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{ not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        jaxsched.from_deepspeed_config(path)


def test_config_without_optimizer_for_schedulers_that_set_their_own_lr():
    """DeepSpeed's engine takes the client's optimizer; the schedulers that overwrite the lr
    (all of DeepSpeed's but WarmupCosineLR) need no optimizer section to be read."""
    section = {"scheduler": {"type": "WarmupLR", "params": {
        "warmup_max_lr": 0.01, "warmup_num_steps": 10, "warmup_type": "linear"}}}
    bare = jaxsched.from_deepspeed_config(section)
    full = jaxsched.from_deepspeed_config(
        dict(section, optimizer={"type": "SGD", "params": {"lr": 0.3, "momentum": 0.9}}))
    for _ in range(5):
        assert bare.get_last_lr() == full.get_last_lr()
        bare.step()
        full.step()
