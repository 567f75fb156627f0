"""Where torch's own test suite expects behaviour of its schedulers that ours must share
(issue 11's list): each case either matches the live torch 2.13 result or is a documented,
tested refusal."""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched

from helpers import require

torch = require("torch")
lrs = torch.optim.lr_scheduler


def sgd(lr=0.1, momentum=0.0, groups=1):
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr * (g + 1)}
              for g in range(groups)]
    return torch.optim.SGD(params, lr=lr, momentum=momentum)


def stepped(make, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "scheduler.step() before optimizer.step()"
        sched = make()
        for _ in range(n):
            sched.optimizer.step() if hasattr(sched, "optimizer") else None
            sched.step()
    return sched


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=0)


def test_chained_children_report_the_lr_after_their_turn():
    opt = sgd()
    ta, tb = lrs.ConstantLR(opt, 0.5, 3), lrs.ExponentialLR(opt, 0.9)
    tc = lrs.ChainedScheduler([ta, tb])
    a, b = jaxsched.ConstantLR(0.1, 0.5, 3), jaxsched.ExponentialLR(0.1, 0.9)
    c = jaxsched.ChainedScheduler([a, b])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(6):
            for ours, theirs in ((a, ta), (b, tb), (c, tc)):
                close(ours.get_last_lr(), theirs.get_last_lr())
            assert b.get_last_lr() == c.get_last_lr()  # the last child: the chained lr
            close(c.state_dict()["_schedulers"][1]["_last_lr"], b.get_last_lr())
            opt.step()
            tc.step()
            c.step()


@pytest.mark.parametrize(("name", "saved", "fresh"), [
    ("StepLR", dict(step_size=3, gamma=0.5), dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[2, 5, 5], gamma=0.3), dict(milestones=[1])),
    ("ExponentialLR", dict(gamma=0.8), dict(gamma=0.99)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01), dict(T_max=3)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001), dict(T_0=5)),
    ("PolynomialLR", dict(total_iters=8, power=2.0), dict(total_iters=2)),
    ("LinearLR", dict(start_factor=0.25, total_iters=6), dict(total_iters=2)),
    ("ConstantLR", dict(factor=0.25, total_iters=6), dict(factor=0.5)),
], ids=lambda x: x if isinstance(x, str) else None)
def test_load_state_dict_takes_the_dicts_settings_as_torch_does(name, saved, fresh):
    """torch's state dict *is* the scheduler: resuming with other constructor settings
    continues with the saved ones (and the saved base_lrs)."""
    ckpt = stepped(lambda: getattr(lrs, name)(sgd(0.2), **saved), 7).state_dict()
    theirs = getattr(lrs, name)(sgd(0.1), **fresh)
    theirs.load_state_dict(ckpt)
    ours = getattr(jaxsched, name)(0.1, **fresh)
    ours.load_state_dict(ckpt)
    # torch's recursive forms continue from the lr in the group, which a checkpoint restores
    for group, lr in zip(theirs.optimizer.param_groups, ckpt["_last_lr"], strict=True):
        group["lr"] = lr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(8):
            theirs.optimizer.step()
            theirs.step()
            ours.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-9)
    assert ours.state_dict()["base_lrs"] == [0.2]


@pytest.mark.parametrize("wrap", [torch.as_tensor, jnp.asarray, np.float64, np.asarray],
                         ids=["torch", "jnp", "np-scalar", "np-0d"])
def test_zero_dim_hyperparameters_are_taken_as_their_value(wrap):
    ours = jaxsched.OneCycleLR([{"lr": 0.1, "momentum": 0.9}], max_lr=wrap(0.5),
                               total_steps=wrap(20), pct_start=wrap(0.25))
    ref = jaxsched.OneCycleLR([{"lr": 0.1, "momentum": 0.9}], max_lr=float(wrap(0.5)),
                              total_steps=20, pct_start=float(wrap(0.25)))
    for _ in range(20):
        assert ours.get_last_lr() == ref.get_last_lr()
        ours.step()
        ref.step()
    with pytest.raises(TypeError, match=r"jaxsched.step_lr: gamma must be a real number, got "
                                        r"array\(\[0.5, 0.5\]\)"):
        jaxsched.step_lr(3, gamma=np.asarray([0.5, 0.5]), lr=0.1)


def test_fractional_epochs_in_warm_restarts_follow_torch():
    """Now supported (issue 20; live in test_torch_acceptance): step(1.5) sets T_cur = 1.5
    and last_epoch = 1 as torch does, without torch's deprecation warning (its
    CosineAnnealingWarmRestarts.step emits none)."""
    sched = jaxsched.CosineAnnealingWarmRestarts(0.1, T_0=10)
    sched.step(1.5)
    assert sched.last_epoch == 1 and sched.state_dict()["T_cur"] == 1.5
    sched.step(2)
    assert sched.last_epoch == 2 and sched.state_dict()["T_cur"] == 2
    assert "fractional" in type(sched).__doc__


def test_nested_composites_raise_where_torch_does_or_are_documented_refusals():
    """A ChainedScheduler that a SequentialLR reaches at a milestone: torch calls its
    _update_lr(0), which raises NotImplementedError; jaxsched raises it eagerly. A composite
    inside a ChainedScheduler stays refused (its state is not one count). Chains with
    CosineAnnealingLR are accepted now (tests/test_torch_chain.py)."""
    a, b = jaxsched.ConstantLR(0.1, 0.5, 3), jaxsched.ExponentialLR(0.1, 0.9)
    chain = jaxsched.ChainedScheduler([a, b])
    with pytest.raises(NotImplementedError, match=r"jaxsched.SequentialLR: schedulers\[1\] is a "
                                                  r"ChainedScheduler, started at milestone 3"):
        jaxsched.SequentialLR(0.1, [jaxsched.StepLR(0.1, 2), chain], [3])
    with pytest.raises(TypeError, match=r"jaxsched.ChainedScheduler: schedulers\[0\] must be "
                                        r".*refused deliberately"):
        jaxsched.ChainedScheduler([chain, jaxsched.CosineAnnealingLR(0.1, 5)])
    assert "refused" in jaxsched.chained_scheduler.__doc__


@pytest.mark.parametrize("name", ["CyclicLR", "OneCycleLR"])
def test_cycling_momentum_needs_momentum_in_the_optimizer_as_in_torch(name):
    kwargs = (dict(base_lr=0.01, max_lr=0.1) if name == "CyclicLR"
              else dict(max_lr=0.1, total_steps=10))
    adagrad = torch.optim.Adagrad([torch.zeros(1)], lr=0.1)
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        getattr(lrs, name)(adagrad, **kwargs)
    with pytest.raises(ValueError, match=rf"jaxsched.{name}: optimizer must support momentum "
                                         r"or beta1 with `cycle_momentum` option enabled"):
        getattr(jaxsched, name)(adagrad, **kwargs)
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        getattr(jaxsched, name)(0.1, **kwargs)  # a bare lr has no momentum either
    getattr(jaxsched, name)(0.1, cycle_momentum=False, **kwargs)
    getattr(jaxsched, name)(sgd(), **kwargs)  # torch's SGD always has a 'momentum' key


def test_plateau_reduces_groups_added_after_construction():
    opt, mine = sgd(), sgd()  # torch writes its lrs into its optimizer: one each
    theirs = lrs.ReduceLROnPlateau(opt, patience=0, min_lr=0.001)
    ours = jaxsched.ReduceLROnPlateau(mine, patience=0, min_lr=0.001)
    for metric in (1.0, 2.0):
        theirs.step(metric)
        ours.step(metric)
    for o in (opt, mine):
        o.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5})
    for metric in (3.0, 4.0, 5.0):
        theirs.step(metric)
        ours.step(metric)
        close(ours.get_last_lr(), theirs.get_last_lr())
    assert ours.state_dict()["min_lrs"] == theirs.state_dict()["min_lrs"]


def test_plateau_with_per_group_min_lrs_raises_when_groups_are_added_as_torch_does():
    opt = sgd()
    theirs = lrs.ReduceLROnPlateau(opt, patience=0, min_lr=[0.001])
    ours = jaxsched.ReduceLROnPlateau(opt, patience=0, min_lr=[0.001])
    opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5})
    before = ours.state_dict()
    with pytest.raises(RuntimeError):
        for metric in (1.0, 2.0, 3.0):
            theirs.step(metric)
    with pytest.raises(ValueError, match=r"jaxsched.ReduceLROnPlateau.step: expected 2 "
                                         r"min_lrs .* torch raises here too"):
        ours.step(1.0)
    assert ours.state_dict() == before


def test_multiplicative_lambda_is_only_traced_at_construction():
    """Documented: validated eagerly by tracing on an abstract integer; torch first calls
    it at step(). No concrete step ever reaches it before the first evaluation."""
    seen = []

    def factor(k):
        seen.append(type(k).__name__)
        return 0.9

    sched = jaxsched.MultiplicativeLR(0.1, factor)
    assert seen and all("Tracer" in name for name in seen)
    assert "traced once at construction" in jaxsched.multiplicative_lr.__doc__
    sched.step()
    assert math.isclose(sched.get_last_lr()[0], 0.09, rel_tol=1e-15)
