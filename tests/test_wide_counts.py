"""Counts past int32 in x64: every drawn schedule at 2**31, 2**32, 2**53-1 and 2**63-1
against its exact value (the 50-digit oracle); torch's closed forms there, live (ours no
further from exact than torch); torch adapters stepping and exchanging state dicts with
torch at Python-int counts to 2**63-1, and refusing one more step."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxsched
from jaxsched.tools import draws, oracle

from helpers import require

torch = require("torch")

WIDE = [2**31, 2**32, 2**53 - 1, 2**63 - 1]
NARROW: set[str] = set()  # every drawn schedule is exact to 2**63-1 in x64


@pytest.mark.parametrize("name", sorted(set(draws.DRAWS) - NARROW))
def test_every_schedule_past_int32_is_exact_in_x64(name):
    schedule, _ = draws.draw(name, 3)
    for key, s in (("lr", schedule), ("momentum", schedule.momentum)):
        if s is None:
            continue
        with jax.enable_x64(True):
            f = jax.jit(s)
            ours = np.asarray([float(f(np.int64(k))) for k in WIDE])
        exact = np.asarray([float(v) for v in oracle.exact_values(s, WIDE)])
        np.testing.assert_allclose(ours, exact, rtol=1e-12, atol=1e-300, err_msg=key)


def torch_closed_form(cls, kw, k):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = cls(opt, **kw)
    sched.last_epoch = k
    return sched._get_closed_form_lr()[0]


CASES = {
    "StepLR": (dict(step_size=10**9, gamma=0.5), lambda: jaxsched.step_lr(10**9, 0.5, lr=0.1)),
    "ExponentialLR": (dict(gamma=1 - 1e-12), lambda: jaxsched.exponential_lr(1 - 1e-12,
                                                                              lr=0.1)),
    # a period of 2 T_max past int32: reached only in x64
    "CosineAnnealingLR": (dict(T_max=2**31 - 1, eta_min=0.001),
                          lambda: jaxsched.cosine_annealing_lr(2**31 - 1, 0.001, lr=0.1)),
    "LinearLR": (dict(start_factor=0.5, end_factor=1.0, total_iters=2**31 - 1),
                 lambda: jaxsched.linear_lr(0.5, 1.0, 2**31 - 1, lr=0.1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_closed_forms_past_int32(name):
    """torch's closed form at counts past int32: ours within 1e-12 of exact, or no further
    than torch's float arithmetic."""
    kw, make = CASES[name]
    s = make()
    ks = [2**31 - 1, 2**31, 2**32 - 3, 2**32 - 2, 2**32, 5 * 10**9 + 3, 2**53 - 1]
    theirs = np.asarray([torch_closed_form(getattr(torch.optim.lr_scheduler, name), kw, k)
                         for k in ks])
    with jax.enable_x64(True):
        ours = np.asarray([float(jax.jit(s)(np.int64(k))) for k in ks])
    exact = np.asarray([float(v) for v in oracle.exact_values(s, ks)])
    err, ref_err = np.abs(ours - exact), np.abs(theirs - exact)
    assert np.all(err <= np.maximum(1e-12 * np.abs(exact), ref_err)), (ours, exact, theirs)


def test_torch_adapter_counts_to_two_to_the_63():
    """StepLR resumed from torch's state dict at last_epoch 2**40, stepped, handed back to
    torch; then at 2**63-1 one more step raises and changes nothing."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1)
    theirs = torch.optim.lr_scheduler.StepLR(opt, 10**9, 0.5)
    state = dict(theirs.state_dict(), last_epoch=2**40, _step_count=2**40 + 1)
    ours = jaxsched.StepLR([{"lr": 0.1, "initial_lr": 0.1}], 10**9, 0.5)
    ours.load_state_dict(state)
    assert ours.last_epoch == 2**40
    assert ours.get_last_lr() == [0.1 * 0.5 ** (2**40 // 10**9)]
    ours.step()
    back = torch.optim.lr_scheduler.StepLR(opt, 10**9, 0.5)
    back.load_state_dict(ours.state_dict())
    assert back.last_epoch == 2**40 + 1
    assert back._get_closed_form_lr()[0] == pytest.approx(ours.get_last_lr()[0], rel=1e-15)
    top = jaxsched.StepLR([{"lr": 0.1, "initial_lr": 0.1}], 10**9, 0.5, last_epoch=2**63 - 2)
    assert top.last_epoch == 2**63 - 1 and top.get_last_lr() == [0.0]
    with pytest.raises(OverflowError, match=r"StepLR.step: the step count is at 2\*\*63-1"):
        top.step()
    assert top.last_epoch == 2**63 - 1
