"""Exact resume through orbax-checkpoint: a run checkpointed mid-schedule and restored
continues bit for bit (params and lrs): pure schedules, adapters (their state_dict as JSON)
and the plateau transform's state."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

import jaxsched

STEPS, CUT = 24, 11
X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)


def loss_fn(p):
    return jnp.mean((X @ p["w"] - Y) ** 2)


def make_opt(kind):
    if kind == "pure":
        return jaxsched.scheduled(optax.sgd, jaxsched.one_cycle_lr(0.05, total_steps=STEPS))
    if kind == "plateau":
        return optax.chain(optax.scale_by_adam(),
                           jaxsched.reduce_lr_on_plateau(0.05, patience=1, factor=0.5))
    return optax.inject_hyperparams(optax.sgd)(learning_rate=0.0, momentum=0.0)


def make_adapter(kind):
    return jaxsched.OneCycleLR([{"lr": 0.05, "momentum": 0.9}], 0.05, total_steps=STEPS) \
        if kind == "adapter" else None


def train(kind, p, state, adapter, start, stop, record):
    opt = make_opt(kind)

    @jax.jit
    def step(p, state):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, state = opt.update(grads, state, p, value=loss)
        return optax.apply_updates(p, updates), state

    for _ in range(start, stop):
        if adapter is not None:
            state = adapter.apply(state)
        p, state = step(p, state)
        if adapter is not None:
            adapter.step()
        record.append(np.asarray(p["w"]))
    return p, state


@pytest.mark.parametrize("kind", ["pure", "adapter", "plateau"])
def test_resume_is_bit_for_bit(kind, tmp_path):
    p0 = {"w": jnp.zeros(3)}
    straight: list = []
    train(kind, p0, make_opt(kind).init(p0), make_adapter(kind), 0, STEPS, straight)

    first: list = []
    adapter = make_adapter(kind)
    p, state = train(kind, p0, make_opt(kind).init(p0), adapter, 0, CUT, first)
    with ocp.StandardCheckpointer() as ckpt:  # closed explicitly (see REFERENCE-SEMANTICS)
        ckpt.save(tmp_path / "ckpt", {"params": p, "opt_state": state})
        ckpt.wait_until_finished()
    (tmp_path / "sched.json").write_text(json.dumps(adapter.state_dict() if adapter else {}))
    del p, state, adapter

    target = {"params": p0, "opt_state": make_opt(kind).init(p0)}
    with ocp.StandardCheckpointer() as ckpt:
        restored = ckpt.restore(tmp_path / "ckpt", target)
    adapter = make_adapter(kind)
    if adapter is not None:
        adapter.load_state_dict(json.loads((tmp_path / "sched.json").read_text()))
    second: list = []
    train(kind, restored["params"], restored["opt_state"], adapter, CUT, STEPS, second)

    resumed = first + second
    assert len(resumed) == len(straight) == STEPS
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a, b)  # bit for bit


def test_adapter_state_dicts_are_json():
    adapters = [jaxsched.OneCycleLR(0.1, 0.1, total_steps=10, cycle_momentum=False),
                jaxsched.WarmupLR(0.1),
                jaxsched.MultiStepLR(0.1, [2, 2]), jaxsched.ReduceLROnPlateau(0.1)]
    for a in adapters:
        a.step(1.0) if isinstance(a, jaxsched.ReduceLROnPlateau) else a.step()
        text = json.dumps(a.state_dict())
        loaded = json.loads(text)  # MultiStepLR's Counter comes back with string keys
        before = a.get_last_lr()
        a.load_state_dict(loaded)
        assert a.get_last_lr() == before
