"""``jaxsched.transformers.from_training_args`` against a real transformers 5.23.0
``Trainer`` on a tiny torch module (nothing downloaded): the Trainer's own step count
(``set_initial_training_values``), its ``create_scheduler`` from the same
``TrainingArguments``, and the lrs it applies while training."""

from __future__ import annotations

import tempfile
import warnings

import numpy as np
import pytest

from jaxsched.tools import parity
from jaxsched.transformers import from_training_args, training_steps, warmup_steps

from helpers import require

torch = require("torch")
transformers = require("transformers")
require("accelerate")


class Tiny(torch.nn.Module):
    """A model Trainer accepts: a dict with the loss."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(2, 1)

    def forward(self, x, labels=None):
        out = self.w(x).squeeze(-1)
        return {"loss": ((out - labels) ** 2).mean(), "logits": out}


class Data(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": torch.full((2,), float(i % 7)), "labels": torch.tensor(float(i % 3))}


def trainer(n_examples, **kw):
    kw = dict(output_dir=tempfile.mkdtemp(), report_to=[], use_cpu=True, save_strategy="no",
              logging_strategy="no", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = transformers.TrainingArguments(**kw)
        return transformers.Trainer(model=Tiny(), args=args, train_dataset=Data(n_examples))


RUNS = {
    "epochs_ratio_cosine": (1003, dict(per_device_train_batch_size=4,
                                       gradient_accumulation_steps=3, num_train_epochs=2.5,
                                       warmup_steps=0.07, lr_scheduler_type="cosine",
                                       learning_rate=3e-4)),
    "max_steps_linear": (50, dict(per_device_train_batch_size=8, max_steps=1200,
                                  warmup_steps=100, lr_scheduler_type="linear",
                                  learning_rate=1e-3)),
    "drop_last_restarts": (999, dict(per_device_train_batch_size=16, dataloader_drop_last=True,
                                     gradient_accumulation_steps=4, num_train_epochs=7,
                                     warmup_steps=0.013, learning_rate=5e-4,
                                     lr_scheduler_type="cosine_with_restarts",
                                     lr_scheduler_kwargs={"num_cycles": 2.5})),
    "min_lr_kwargs_json": (777, dict(per_device_train_batch_size=2, num_train_epochs=3,
                                     gradient_accumulation_steps=5, warmup_steps=0.5,
                                     lr_scheduler_type="cosine_with_min_lr",
                                     lr_scheduler_kwargs='{"min_lr": 1e-5}',
                                     learning_rate=2e-4)),
    "wsd": (4000, dict(per_device_train_batch_size=8, num_train_epochs=2, warmup_steps=0.1,
                       lr_scheduler_type="warmup_stable_decay",
                       lr_scheduler_kwargs={"num_decay_steps": 200, "decay_type": "1-sqrt"})),
    "polynomial_accumulation_remainder": (101, dict(
        per_device_train_batch_size=3, gradient_accumulation_steps=4, num_train_epochs=30,
        warmup_steps=10.7, lr_scheduler_type="polynomial",
        lr_scheduler_kwargs={"power": 2.0, "lr_end": 1e-6})),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_from_training_args_matches_trainer_create_scheduler(name):
    n, kw = RUNS[name]
    tr = trainer(n, **kw)
    dl = tr.get_train_dataloader()
    t = tr.set_initial_training_values(tr.args, dl)[-1]
    assert training_steps(tr.args, steps_per_epoch=len(dl)) == t
    assert training_steps(tr.args, num_examples=n) == t
    assert warmup_ours(tr.args, t) == tr.args.get_warmup_steps(t)
    tr.create_optimizer_and_scheduler(num_training_steps=t)
    sched = tr.lr_scheduler
    steps = sorted({*range(0, t + 30, max(1, t // 150)), *range(0, 30), t - 1, t, t + 1,
                    10**6, 2**31 - 1})
    ref = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping the scheduler alone: torch warns
        for k in steps:  # LambdaLR is a closed form of last_epoch: jump to each step
            sched.last_epoch = k - 1
            sched.step()
            ref.append([g["lr"] for g in tr.optimizer.param_groups])
    ours = from_training_args(tr.args, steps_per_epoch=len(dl))
    made = dict(sched.lr_lambdas[0].keywords)
    assert ours.params["num_training_steps"] == made.get("num_training_steps", t)
    assert ours.params["num_warmup_steps"] == made.get("num_warmup_steps")
    name = getattr(tr.args.lr_scheduler_type, "value", tr.args.lr_scheduler_type)
    spec = {k: v for k, v in ours.params.items()
            if k not in ("name", "num_warmup_steps", "num_training_steps", "lr")}
    lr = tr.args.learning_rate
    case = {"name": name, "class": "LambdaLR", "hf": name, "optimizer": "Adam",
            "kwargs": {"num_warmup_steps": ours.params["num_warmup_steps"],
                       "num_training_steps": t, "scheduler_specific_kwargs": spec or None},
            "groups": [{"lr": lr, "betas": (0.9, 0.999)}] * len(tr.optimizer.param_groups),
            "steps": steps, "lr": np.asarray(ref).T.tolist()}
    errors = parity.case_errors(case)  # ours in float64, float32, the adapter: three-way
    assert {"pure64.lr", "pure32.lr", "adapter.lr"} <= set(errors)
    bad = {k: e for k, e in errors.items() if not parity.within_tolerance(k, e)}
    assert not bad, bad
    import jax

    with jax.enable_x64(True):  # the schedule from_training_args returns is that one
        assert [float(ours(k)) for k in steps[:40]] == pytest.approx(
            [r[0] for r in ref[:40]], rel=1e-12, abs=1e-300)
    adapter = from_training_args(tr.args, tr.optimizer, num_examples=n)
    assert adapter.state_dict()["base_lrs"] == sched.state_dict()["base_lrs"]


def warmup_ours(args, t):
    return warmup_steps(args, t)


def test_lrs_applied_while_training_are_ours():
    """A real (short) ``trainer.train()``: the lr of every optimizer update, read by a
    callback, is the schedule's at that update."""
    seen = []

    class Record(transformers.TrainerCallback):
        def on_step_begin(self, args, state, control, optimizer=None, **kw):
            seen.append(optimizer.param_groups[0]["lr"])

    tr = trainer(90, per_device_train_batch_size=4, gradient_accumulation_steps=2,
                 num_train_epochs=3, warmup_steps=0.2, lr_scheduler_type="cosine",
                 learning_rate=1e-2)
    tr.add_callback(Record())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr.train()
    ours = from_training_args(tr.args, num_examples=90)
    assert ours.params["num_training_steps"] == len(seen) == 36
    np.testing.assert_allclose(seen, [float(ours(k)) for k in range(len(seen))], rtol=1e-6,
                               atol=1e-12)


BAD = {
    "epochs_without_length": (dict(num_train_epochs=3), {}, ValueError,
                              r"from_training_args: .*steps_per_epoch"),
    "not_args": ("cosine", {}, TypeError, r"args must be a transformers TrainingArguments"),
    "unknown_field": (dict(warmup_ratio=0.1, max_steps=10), {}, TypeError,
                      r"unknown training argument 'warmup_ratio'"),
    "bad_json": (dict(max_steps=10, lr_scheduler_kwargs="{num_cycles"), {}, ValueError,
                 r"lr_scheduler_kwargs is not a JSON dict"),
    "negative_warmup": (dict(max_steps=10, warmup_steps=-1), {}, ValueError,
                        r"warmup_steps must be >= 0"),
    "string_steps": (dict(max_steps=-1), dict(steps_per_epoch="9"), TypeError,
                     r"steps_per_epoch must be an integer"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_arguments_raise(name):
    args, extra, err, match = BAD[name]
    with pytest.raises(err, match=match):
        from_training_args(args, **extra)
