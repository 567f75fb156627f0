"""torch's chainable composition against live torch 2.13 (issue 20): a ChainedScheduler with
CosineAnnealingLR's recursive form (and lambdas, cyclic schedules), schedulers stepping one
optimizer in turn, and SequentialLR with a ChainedScheduler or ReduceLROnPlateau child.

The curves these give have no closed form: torch's own float64 recursion is the reference,
and ours must equal it within 1e-12 relative after every step (they run the same arithmetic;
where a scheduler's group lrs are its own, ours is its exact closed form, within rounding of
torch's recursion). State dicts go both ways mid-run, and the runs continue side by side."""

from __future__ import annotations

import json
import math
import pickle
import warnings

import pytest

import jaxsched

from helpers import require

torch = require("torch")
lrs = torch.optim.lr_scheduler

LR = 0.1


def torch_opt(groups=1):
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": LR * (g + 1)}
              for g in range(groups)]
    return torch.optim.SGD(params, lr=LR, momentum=0.9)


def group_dicts(groups=1):
    return [{"lr": LR * (g + 1), "momentum": 0.9} for g in range(groups)]


def close(ours, theirs, where):
    assert len(ours) == len(theirs), where
    for a, b in zip(ours, theirs, strict=True):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300), (where, a, b)


# each case: the schedulers of one optimizer, built in order by `make(module, optimizer)`;
# `module` is torch.optim.lr_scheduler or jaxsched (the same names and arguments)
CHAINS = {
    "cosine-step": lambda m, o: [m.CosineAnnealingLR(o, 10, 0.001), m.StepLR(o, 3, 0.5)],
    "step-cosine": lambda m, o: [m.StepLR(o, 3, 0.5), m.CosineAnnealingLR(o, 10, 0.001)],
    "cosine-T1-exponential": lambda m, o: [m.CosineAnnealingLR(o, 1, 0.002),
                                           m.ExponentialLR(o, 0.97)],
    "linear-cosine": lambda m, o: [m.LinearLR(o, 0.1, 1.0, 5), m.CosineAnnealingLR(o, 7)],
    "multistep-cosine-polynomial": lambda m, o: [m.MultiStepLR(o, [4, 9, 9], 0.5),
                                                 m.CosineAnnealingLR(o, 6, 0.003),
                                                 m.PolynomialLR(o, 30, 2.0)],
    "constant-cosine": lambda m, o: [m.ConstantLR(o, 0.25, 4), m.CosineAnnealingLR(o, 8)],
    "lambda-cosine": lambda m, o: [m.LambdaLR(o, lambda k: 1.0 if k < 10 else 0.5),
                                   m.CosineAnnealingLR(o, 9, 0.001)],
    "multiplicative-cosine": lambda m, o: [m.MultiplicativeLR(o, lambda k: 0.9 if k % 3 else 1.1),
                                           m.CosineAnnealingLR(o, 9, 0.001)],
    "cosine-cyclic": lambda m, o: [m.CosineAnnealingLR(o, 5),
                                   m.CyclicLR(o, 0.01, 0.1, 4)],
}
TWO_GROUPS = {"cosine-step", "multistep-cosine-polynomial", "lambda-cosine"}
N = 100  # past 2 * T_max for every cosine: the recursion's restarts


def same_state(ours, theirs, where=()):
    """Equal state dicts, floats within 1e-12 relative."""
    if isinstance(theirs, float):
        assert math.isclose(ours, theirs, rel_tol=1e-12, abs_tol=1e-300), (where, ours, theirs)
    elif isinstance(theirs, dict):
        assert set(ours) == set(theirs), (where, sorted(ours), sorted(theirs))
        for key in theirs:
            same_state(ours[key], theirs[key], (*where, key))
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            same_state(a, b, (*where, i))
    else:
        assert ours == theirs, (where, ours, theirs)


def quiet():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")  # torch's "lr_scheduler.step() before optimizer.step()"
    return ctx


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_chained_scheduler_follows_torchs_recursion(name):
    groups = 2 if name in TWO_GROUPS else 1
    ctx = quiet()
    try:
        opt = torch_opt(groups)
        theirs = lrs.ChainedScheduler(CHAINS[name](lrs, opt))
        ours = jaxsched.ChainedScheduler(CHAINS[name](jaxsched, group_dicts(groups)))
        for k in range(N):
            close(ours.get_last_lr(), theirs.get_last_lr(), (name, k))
            if name == "cosine-cyclic":  # CyclicLR writes the momentum: the group's
                close(ours.get_last_momentum(), [g["momentum"] for g in opt.param_groups], k)
            for i, (a, b) in enumerate(zip(ours._children, theirs._schedulers, strict=True)):
                close(a.get_last_lr(), b.get_last_lr(), (name, k, i))
            if k == N // 2:  # torch's state dict into a fresh chain, which goes on from it
                same_state(ours.state_dict(), theirs.state_dict())
                resumed = jaxsched.ChainedScheduler(CHAINS[name](jaxsched, group_dicts(groups)))
                resumed.load_state_dict(theirs.state_dict())
            opt.step()
            theirs.step()
            ours.step()
            if k >= N // 2:
                resumed.step()
                close(resumed.get_last_lr(), theirs.get_last_lr(), (name, "resumed", k))
        # ours into torch: torch's recursion goes on from the lrs in the optimizer
        saved = ours.state_dict()
        opt2 = torch_opt(groups)
        back = lrs.ChainedScheduler(CHAINS[name](lrs, opt2))
        back.load_state_dict(saved)
        for group, lr in zip(opt2.param_groups, saved["_last_lr"], strict=True):
            group["lr"] = lr
        for k in range(20):
            opt2.step()
            back.step()
            ours.step()
            close(ours.get_last_lr(), back.get_last_lr(), (name, "back", k))
    finally:
        ctx.__exit__(None, None, None)


ON_ONE_OPTIMIZER = {
    "cosine-step": lambda m, o: [m.CosineAnnealingLR(o, 10, 0.001), m.StepLR(o, 7, 0.5)],
    "multistep-exponential": lambda m, o: [m.MultiStepLR(o, [30, 80], 0.1),
                                           m.ExponentialLR(o, 0.98)],
    "linear-exponential": lambda m, o: [m.LinearLR(o, 0.01, 1.0, 20), m.ExponentialLR(o, 0.99)],
    "cosine-cosine-polynomial": lambda m, o: [m.CosineAnnealingLR(o, 20, 0.001),
                                              m.CosineAnnealingLR(o, 33),
                                              m.PolynomialLR(o, 150, 0.5)],
    "exponential-cosine-T1": lambda m, o: [m.ExponentialLR(o, 0.99),
                                           m.CosineAnnealingLR(o, 1, 0.001)],
}


@pytest.mark.parametrize("name", sorted(ON_ONE_OPTIMIZER))
def test_schedulers_stepped_in_turn_on_one_optimizer(name):
    """torch's docs: "schedulers can be chained by calling step() one after another". The
    jaxsched adapters built on one torch optimizer object share its group lrs (jaxsched
    never writes into it), so each step acts on what the previous ones left."""
    ctx = quiet()
    try:
        opt, mine = torch_opt(2), torch_opt(2)
        theirs = ON_ONE_OPTIMIZER[name](lrs, opt)
        ours = ON_ONE_OPTIMIZER[name](jaxsched, mine)
        for k in range(200):
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                close(a.get_last_lr(), b.get_last_lr(), (name, k, i))
            opt.step()
            for sched in (*theirs, *ours):
                sched.step()
        states = [s.state_dict() for s in theirs]
        same_state([s.state_dict() for s in ours], states)
        # torch's states into fresh adapters on a fresh optimizer: they go on from them
        again = ON_ONE_OPTIMIZER[name](jaxsched, torch_opt(2))
        for sched, state in zip(again, states, strict=True):
            sched.load_state_dict(state)
        for k in range(40):
            opt.step()
            for sched in (*theirs, *ours, *again):
                sched.step()
            for a, b, c in zip(ours, theirs, again, strict=True):
                close(a.get_last_lr(), b.get_last_lr(), (name, "on", k))
                close(c.get_last_lr(), b.get_last_lr(), (name, "resumed", k))
    finally:
        ctx.__exit__(None, None, None)


def test_one_adapter_on_a_torch_optimizer_keeps_its_closed_form():
    """Alone on its optimizer, an adapter is its exact closed form (the pure schedule)."""
    sched = jaxsched.CosineAnnealingLR(torch_opt(), 10, 0.001)
    alone = jaxsched.CosineAnnealingLR(LR, 10, 0.001)
    for _ in range(45):
        assert sched.get_last_lr() == alone.get_last_lr()
        assert sched._rec is None
        sched.step()
        alone.step()


SEQUENTIAL = {
    "chain-then-step": (lambda m, o: [m.ChainedScheduler([m.ConstantLR(o, 0.5, 3),
                                                          m.ExponentialLR(o, 0.9)]),
                                      m.StepLR(o, 2, 0.5)], [4]),
    "cosine-chain-then-exponential": (
        lambda m, o: [m.ChainedScheduler([m.CosineAnnealingLR(o, 6, 0.001),
                                          m.StepLR(o, 4, 0.5)]),
                      m.ExponentialLR(o, 0.95)], [25]),
    "skipped-then-chain": (lambda m, o: [m.StepLR(o, 2, 0.5),
                                         m.ChainedScheduler([m.LinearLR(o, 0.2, 1.0, 6),
                                                             m.CosineAnnealingLR(o, 9)])], [0]),
    "chain-then-cosine-then-linear": (
        lambda m, o: [m.ChainedScheduler([m.ExponentialLR(o, 0.97), m.PolynomialLR(o, 10)]),
                      m.CosineAnnealingLR(o, 5, 0.01), m.LinearLR(o, 0.5, 1.0, 4)], [8, 20]),
}


@pytest.mark.parametrize("name", sorted(SEQUENTIAL))
def test_sequential_lr_with_a_chained_scheduler_first(name):
    """torch resets the groups, undoes every child's step, and starts the chain with a plain
    step() (its ExponentialLR multiplies at epoch 0, its cosine rescales): reproduced."""
    make, milestones = SEQUENTIAL[name]
    ctx = quiet()
    try:
        opt = torch_opt()
        theirs = lrs.SequentialLR(opt, make(lrs, opt), milestones)
        ours = jaxsched.SequentialLR(LR, make(jaxsched, group_dicts()), milestones)
        for k in range(60):
            close(ours.get_last_lr(), theirs.get_last_lr(), (name, k))
            if k == 30:
                same_state(ours.state_dict(), theirs.state_dict())
                resumed = jaxsched.SequentialLR(LR, make(jaxsched, group_dicts()), milestones)
                resumed.load_state_dict(theirs.state_dict())
            opt.step()
            theirs.step()
            ours.step()
            if k >= 30:
                resumed.step()
                close(resumed.get_last_lr(), theirs.get_last_lr(), (name, "resumed", k))
    finally:
        ctx.__exit__(None, None, None)


def test_sequential_lr_reaching_a_chained_scheduler_raises_as_torch_does():
    """torch's SequentialLR starts a later child with _update_lr(0), which ChainedScheduler
    does not implement: NotImplementedError at the milestone; jaxsched raises it eagerly."""
    ctx = quiet()
    try:
        opt = torch_opt()
        chain = lrs.ChainedScheduler([lrs.ConstantLR(opt, 0.5, 3), lrs.ExponentialLR(opt, 0.9)])
        theirs = lrs.SequentialLR(opt, [lrs.StepLR(opt, 2), chain], [3])
        theirs.step()
        theirs.step()
        with pytest.raises(NotImplementedError):
            theirs.step()  # the milestone
    finally:
        ctx.__exit__(None, None, None)
    chain = jaxsched.ChainedScheduler([jaxsched.ConstantLR(LR, 0.5, 3),
                                       jaxsched.ExponentialLR(LR, 0.9)])
    with pytest.raises(NotImplementedError, match=r"jaxsched\.SequentialLR: schedulers\[1\] is "
                                                  r"a ChainedScheduler, started at milestone 3 "
                                                  r"by torch's SequentialLR with _update_lr"):
        jaxsched.SequentialLR(LR, [jaxsched.StepLR(LR, 2), chain], [3])


@pytest.mark.parametrize("kind", ["SequentialLR", "ChainedScheduler"])
def test_reduce_lr_on_plateau_child_raises_torchs_value_error(kind):
    opt = torch_opt()
    step, plateau = lrs.StepLR(opt, 2), lrs.ReduceLROnPlateau(opt)
    args = ((opt, [step, plateau], [3]) if kind == "SequentialLR" else ([step, plateau],))
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`") as theirs:
        getattr(lrs, kind)(*args)
    step, plateau = jaxsched.StepLR(LR, 2), jaxsched.ReduceLROnPlateau(LR)
    args = ((LR, [step, plateau], [3]) if kind == "SequentialLR" else ([step, plateau],))
    with pytest.raises(ValueError, match=rf"jaxsched\.{kind}: {kind} does not support "
                                         r"`ReduceLROnPlateau` scheduler .* at index 1") as ours:
        getattr(jaxsched, kind)(*args)
    assert str(ours.value) == f"jaxsched.{kind}: {theirs.value}"


def test_schedulers_of_different_optimizers_raise_as_torch_does():
    a, b = torch_opt(), torch_opt()
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same "
                                         "optimizer"):
        lrs.ChainedScheduler([lrs.StepLR(a, 2), lrs.CosineAnnealingLR(b, 5)])
    with pytest.raises(ValueError, match=r"jaxsched\.ChainedScheduler: schedulers\[1\] "
                                         r"\(CosineAnnealingLR\) was built on another torch "
                                         r"optimizer; torch expects all schedulers to belong"):
        jaxsched.ChainedScheduler([jaxsched.StepLR(a, 2), jaxsched.CosineAnnealingLR(b, 5)])
    for kind, args in [("SequentialLR", (a, [lrs.StepLR(b, 2), lrs.ExponentialLR(b, 0.9)], [3])),
                       ("ChainedScheduler", ([lrs.StepLR(b, 2)], a))]:
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same"):
            getattr(lrs, kind)(*args)
    with pytest.raises(ValueError, match=r"jaxsched\.SequentialLR: schedulers\[0\] \(StepLR\) "
                                         r"was built on another torch optimizer"):
        jaxsched.SequentialLR(a, [jaxsched.StepLR(b, 2), jaxsched.ExponentialLR(b, 0.9)], [3])
    with pytest.raises(ValueError, match=r"jaxsched\.ChainedScheduler: schedulers\[0\] "
                                         r"\(StepLR\) was built on another torch optimizer"):
        jaxsched.ChainedScheduler([jaxsched.StepLR(b, 2)], a)
    with pytest.raises(ValueError, match=r"jaxsched\.SequentialLR: schedulers\[0\] \(StepLR\) "
                                         r"was built on an optimizer with lrs \[0\.1\], not "
                                         r"this one's \[0\.2\]"):
        jaxsched.SequentialLR(0.2, [jaxsched.StepLR(LR, 2), jaxsched.ChainedScheduler(
            [jaxsched.CosineAnnealingLR(LR, 5)])], [3])


def test_a_refused_chain_changes_no_scheduler():
    """Children built after a CyclicLR that torch built first take its base_lr as their
    initial_lr, which jaxsched does not model: refused, before any child changes."""
    cyc = jaxsched.CyclicLR(group_dicts(), 0.01, 0.1, 4)
    cos = jaxsched.CosineAnnealingLR(group_dicts(), 5)
    cos.step()
    before = cos.get_last_lr()
    with pytest.raises(ValueError, match=r"schedulers\[1\]: CosineAnnealingLR has base_lrs "
                                         r"\[0\.1\], but torch's, built after"):
        jaxsched.ChainedScheduler([cyc, cos])
    assert cos.get_last_lr() == before and cos._store is None


def _host_chain():
    return jaxsched.ChainedScheduler([jaxsched.CosineAnnealingLR(LR, 10, 0.001),
                                      jaxsched.StepLR(LR, 3, 0.5)])


def _host_sequential():
    return jaxsched.SequentialLR(LR, [_host_chain(), jaxsched.ExponentialLR(LR, 0.9)], [5])


def _snapshot(sched):
    children = [c.get_last_lr() for c in sched._children]
    return repr((sched.state_dict(), sched.get_last_lr(), children))


def _corrupt(name, good):
    """Bad state dicts for a host-run composite: (id, dict)."""
    inner = good if name == "chain" else good["_schedulers"][0]

    def child(i, **change):
        kids = [dict(c) for c in inner["_schedulers"]]
        kids[i].update(change)
        new = dict(inner, _schedulers=kids)
        return new if name == "chain" else dict(good, _schedulers=[new, good["_schedulers"][1]])

    return [("missing-_last_lr", {k: v for k, v in good.items() if k != "_last_lr"}),
            ("_last_lr-str", dict(good, _last_lr="x")),
            ("_schedulers-short", dict(good, _schedulers=good["_schedulers"][:1])),
            ("child-T_max", child(0, T_max=11)),
            ("child-last_epoch-disagrees", child(1, last_epoch=inner["_schedulers"][0]
                                                 ["last_epoch"] + 1)),
            ("child-_last_lr-str", child(1, _last_lr="x"))]


@pytest.mark.parametrize("name", ["chain", "sequential"])
def test_host_run_composites_refuse_bad_state_and_change_nothing(name):
    make = _host_chain if name == "chain" else _host_sequential
    kind = "ChainedScheduler" if name == "chain" else "SequentialLR"
    sched = make()
    for _ in range(7):
        sched.step()
    good = sched.state_dict()
    for label, bad in _corrupt(name, good):
        before = _snapshot(sched)
        with pytest.raises((TypeError, ValueError), match=rf"jaxsched\.{kind}\.load_state_dict"):
            sched.load_state_dict(bad)
        assert _snapshot(sched) == before, label
    fresh = make()  # its own state, through JSON and pickle
    fresh.load_state_dict(json.loads(json.dumps(good)))
    back = pickle.loads(pickle.dumps(sched))
    for _ in range(25):
        assert fresh.get_last_lr() == sched.get_last_lr() == back.get_last_lr()
        for s in (sched, fresh, back):
            s.step()


def test_a_host_run_chain_has_no_pure_schedule_but_applies_to_optax():
    optax = require("optax")
    sched = _host_chain()
    with pytest.raises(TypeError, match=r"jaxsched\.ChainedScheduler: no pure schedule"):
        sched.schedule  # noqa: B018
    assert sched.schedules == []
    state = optax.inject_hyperparams(optax.sgd)(learning_rate=LR).init({"w": 0.0})
    for _ in range(3):
        sched.step()
    state = sched.apply(state)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(sched.get_last_lr()[0],
                                                                       rel=1e-7)


@pytest.mark.parametrize("milestone", [0, 5, 12])
def test_sequential_lr_of_adapters_built_on_one_torch_optimizer(milestone):
    """torch's usual SequentialLR, written with the jaxsched adapters on a torch optimizer:
    the children share its group lrs at construction, and the composite is still torch's."""
    def make(m, o):
        return [m.LinearLR(o, 0.1, 1.0, 5), m.CosineAnnealingLR(o, 20, 0.001)]

    ctx = quiet()
    try:
        opt, mine = torch_opt(), torch_opt()
        theirs = lrs.SequentialLR(opt, make(lrs, opt), [milestone])
        ours = jaxsched.SequentialLR(mine, make(jaxsched, mine), [milestone])
        for k in range(50):
            close(ours.get_last_lr(), theirs.get_last_lr(), k)
            if k in (3, 30):
                same_state(ours.state_dict(), theirs.state_dict())
            opt.step()
            theirs.step()
            ours.step()
    finally:
        ctx.__exit__(None, None, None)
