"""Param-tree groups: rules, masks and layer-wise lr decay over a parameter tree, as one
``jaxsched.grouped`` transform, against a float64 torch ``AdamW`` run with the same param
groups and a ``LambdaLR``, update for update (<= 1e-12 relative); Megatron's per-group
values; bad input."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched

from helpers import require

torch = require("torch")

SHAPES = {"embed.weight": (8, 4), "layers.0.weight": (6, 8), "layers.0.bias": (6,),
          "layers.1.weight": (6, 6), "layers.1.bias": (6,), "norm.weight": (6,),
          "norm.bias": (6,), "head.weight": (3, 6), "head.bias": (3,)}
NUM_LAYERS, DECAY = 3, 0.75  # embed = layer 0, layers.i = i + 1, the rest: the head


def lam(e):
    """A warmup then exponential decay, plain arithmetic (torch ints and jax arrays)."""
    return (e < 5) * (e + 1) / 5 + (e >= 5) * 0.93 ** e


def layer_of(name):
    if name.startswith("embed"):
        return 0
    m = re.match(r"layers[./](\d+)", name)
    return int(m.group(1)) + 1 if m else None


def nested(values):
    tree = {}
    for name, v in values.items():
        node = tree
        *parents, leaf = name.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return tree


def initial(seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.normal(size=s) for n, s in SHAPES.items()}


def grads(k):
    return {n: np.sin(np.arange(np.prod(s)).reshape(s) * 0.37 + k * 1.3 + i)
            for i, (n, s) in enumerate(SHAPES.items())}


def torch_run(groups_spec, steps):
    params = {n: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64))
              for n, v in initial().items()}
    groups = [{"params": [params[n] for n in names], **opts} for names, opts in groups_spec]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    out = []
    for k in range(steps):
        for n, g in grads(k).items():
            params[n].grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        sched.step()
        out.append({n: p.detach().numpy().copy() for n, p in params.items()})
    return opt, list(params.items()), out


def jax_run(tx, steps):
    params = nested(initial())
    state = tx.init(params)
    step = jax.jit(lambda p, s, g: (lambda u, s: (optax.apply_updates(p, u), s))(
        *tx.update(g, s, p)))
    out = []
    for k in range(steps):
        params, state = step(params, state, nested(grads(k)))
        out.append(params)
    return out


def assert_same(ours, theirs):
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for name, ref in b.items():
            leaf = a
            for part in name.split("."):
                leaf = leaf[part]
            err = np.max(np.abs(np.asarray(leaf) - ref)) / np.max(np.abs(ref))
            assert err <= 1e-12, (k, name, err)


NO_DECAY = [n for n in SHAPES if n.endswith("bias") or n.startswith("norm")]
DECAYED = [n for n in SHAPES if n not in NO_DECAY]


def test_torch_param_groups_update_for_update():
    """Three torch groups (decayed, not decayed, a head at 5x the lr) imported by
    rules_from_torch: each group's LambdaLR built from its own lr."""
    head = ["head.weight"]
    spec = [([n for n in DECAYED if n not in head], {"weight_decay": 0.05}),
            (NO_DECAY, {"weight_decay": 0.0}), (head, {"lr": 5e-3, "weight_decay": 0.05})]
    with jax.enable_x64(True):
        opt, named, theirs = torch_run(spec, 25)
        rules = jaxsched.rules_from_torch(opt, named,
                                          schedule_for=lambda lr: jaxsched.lambda_lr(lam, lr=lr))
        groups = jaxsched.param_groups(nested(initial()), rules)
        assert [r[1] for r in groups.table()] == [
            "group 2" if n in head else "group 1" if n in NO_DECAY else "group 0"
            for n in sorted(SHAPES, key=lambda n: n.replace(".", "/"))]
        tx = jaxsched.grouped(optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8), groups,
                              lr=None, weight_decay=None)
        assert_same(jax_run(tx, 25), theirs)


def test_layerwise_decay_matches_torch_layer_groups():
    """BEiT-style layer-wise decay: torch needs one group per layer (and per decay mask);
    here one rule and a layer factor decay**(L - layer)."""
    spec = []
    for layer in [0, 1, 2, None]:
        for names, wd in ((DECAYED, 0.05), (NO_DECAY, 0.0)):
            members = [n for n in names if layer_of(n) == layer]
            if members:
                factor = DECAY ** (NUM_LAYERS - (NUM_LAYERS if layer is None else layer))
                spec.append((members, {"lr": 1e-3 * factor, "weight_decay": wd}))
    with jax.enable_x64(True):
        _, _, theirs = torch_run(spec, 25)
        groups = jaxsched.param_groups(
            nested(initial()), [jaxsched.Rule(r"bias$|^norm/", decay=False)],
            layer_decay=jaxsched.layerwise(DECAY, NUM_LAYERS, layer_of))
        tx = jaxsched.grouped(optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8), groups,
                              lr=jaxsched.lambda_lr(lam, lr=1e-3), weight_decay=0.05)
        assert_same(jax_run(tx, 25), theirs)


def test_decoupled_decay_equals_coupled_after_conversion():
    """A coupled run (torch AdamW convention) and the decoupled run with
    decoupled_from_coupled(wd, lr) decay the same; coupled_from_decoupled goes back."""
    lr = jaxsched.lambda_lr(lam, lr=1e-3)
    wd = jaxsched.linear_lr(0.5, 1.0, 10, lr=0.1)  # a weight-decay schedule
    with jax.enable_x64(True):
        params = nested(initial())
        g = jaxsched.param_groups(params)
        coupled = jax_run(jaxsched.grouped(optax.scale_by_adam(), g, lr=lr,
                                           weight_decay=wd), 20)
        decoupled = jax_run(jaxsched.grouped(
            optax.scale_by_adam(), g, lr=lr,
            weight_decay=jaxsched.decoupled_from_coupled(wd, lr), decoupled=True), 20)
        chained = jax_run(optax.chain(optax.adam(lr), jaxsched.decoupled_weight_decay(
            jaxsched.decoupled_from_coupled(wd, lr))), 20)
        for a, b, c in zip(coupled, decoupled, chained, strict=True):
            jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15),
                         a, b)
            jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15),
                         a, c)
        back = jaxsched.coupled_from_decoupled(jaxsched.decoupled_from_coupled(wd, lr), lr)
        ks = jnp.arange(30)
        np.testing.assert_allclose(jax.vmap(back)(ks), jax.vmap(wd)(ks), rtol=1e-15)


def test_decoupled_conversion_carries_layerwise_lr_multipliers():
    """The README's claim with the multipliers it shows (layer-wise decay 0.8, no decay on
    biases, a Megatron lr on a samples clock): coupled (torch AdamW) and decoupled after
    decoupled_from_coupled are the same run for every leaf, the embeddings (multiplier
    0.8**3) included; and back through coupled_from_decoupled, and a decoupled decay
    through coupled_from_decoupled."""
    with jax.enable_x64(True):
        params = nested(initial())
        rules = [jaxsched.Rule(r"bias$|^norm/", decay=False),
                 jaxsched.Rule(r"^head/", lr_mult=2.0)]
        g = jaxsched.param_groups(params, rules, layer_decay=jaxsched.layerwise(
            0.8, NUM_LAYERS, layer_of))
        assert {m for _, _, m, _ in g.table()} == {0.8**3, 0.8**2, 0.8, 2.0, 1.0}
        lr = jaxsched.samples_clock(jaxsched.megatron.lr_schedule(
            3e-2, 3e-3, 20, 2_000, "WSD", init_lr=1e-3, wsd_decay_steps=400,
            lr_wsd_decay_style="minus_sqrt"), 64, [16, 16, 640])  # lr > 0 throughout
        adam = optax.scale_by_adam()
        runs = {
            "coupled": jaxsched.grouped(adam, g, lr=lr, weight_decay=0.05),
            "decoupled": jaxsched.grouped(adam, g, lr=lr, weight_decay=jaxsched.
                                          decoupled_from_coupled(0.05, lr), decoupled=True),
            "round trip": jaxsched.grouped(adam, g, lr=lr, weight_decay=jaxsched.
                                           coupled_from_decoupled(jaxsched.
                                           decoupled_from_coupled(0.05, lr), lr)),
        }
        out = {name: jax_run(tx, 60)[-1] for name, tx in runs.items()}
        flat = {n: jax.tree.leaves(t) for n, t in out.items()}
        start = jax.tree.leaves(params)
        for name in ("decoupled", "round trip"):
            for a, b, p0 in zip(flat["coupled"], flat[name], start, strict=True):
                # each run moved its leaves; they agree to rounding
                assert np.max(np.abs(a - p0)) > 1e-3
                np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15, err_msg=name)
        # the inverse: a decoupled decay of 1e-4 per step is, coupled, 1e-4 / (m lr)
        wd_dec = 1e-4
        dec = jax_run(jaxsched.grouped(adam, g, lr=lr, weight_decay=wd_dec, decoupled=True),
                      60)[-1]
        cou = jax_run(jaxsched.grouped(adam, g, lr=lr, weight_decay=jaxsched.
                                       coupled_from_decoupled(wd_dec, lr)), 60)[-1]
        for a, b in zip(jax.tree.leaves(dec), jax.tree.leaves(cou), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
        # without the multipliers (the bug): the embeddings would differ
        plain = jaxsched.Schedule(lambda k: lr(k) * 0.05, name="lr times wd")
        wrong = jax_run(jaxsched.grouped(adam, g, lr=lr, weight_decay=plain, decoupled=True),
                        60)[-1]
        err = np.max(np.abs(wrong["embed"]["weight"] - out["coupled"]["embed"]["weight"]))
        assert err > 1e-9


def test_megatron_groups():
    """Megatron's per-group max_lr / min_lr / wd_mult as rules: each group's lr and decay
    follow the Megatron scheduler's values at its num_steps."""
    sched = jaxsched.megatron.OptimizerParamScheduler(
        [{"lr": 0.0}, {"lr": 0.0, "max_lr": 5e-4, "min_lr": 0.0, "wd_mult": 0.0}],
        init_lr=0.0, max_lr=1e-3, min_lr=1e-5, lr_warmup_steps=3, lr_decay_steps=20,
        lr_decay_style="cosine", start_wd=0.01, end_wd=0.1, wd_incr_steps=20,
        wd_incr_style="linear")
    params = {"w": jnp.ones(3), "b": jnp.ones(2)}
    groups = jaxsched.param_groups(params, jaxsched.rules_from_megatron(sched, ["^w", "^b"]))
    tx = jaxsched.grouped(optax.identity(), groups, lr=None, weight_decay=None)
    state = tx.init(params)
    for _ in range(25):
        _, state = tx.update(params, state, params)
        h = jaxsched.hyperparams(state)
        np.testing.assert_allclose(h["learning_rate"][:2], sched.get_last_lr(), rtol=1e-6)
        np.testing.assert_allclose(h["weight_decay"][:2], sched.get_last_wd(), rtol=1e-6,
                                   atol=1e-12)
        sched.step(1)


def test_bad_input():
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match=r"param_groups: rules\[0\].pattern '\(' is no regex"):
        jaxsched.param_groups(params, [jaxsched.Rule("(")])
    with pytest.raises(TypeError, match=r"param_groups: rules\[0\] must be a jaxsched.Rule"):
        jaxsched.param_groups(params, ["w"])
    with pytest.raises(ValueError, match=r"param_groups: rules\[0\].lr_mult must be >= 0"):
        jaxsched.param_groups(params, [jaxsched.Rule("w", lr_mult=-1.0)])
    with pytest.raises(TypeError, match=r"param_groups: rules\[0\].decay"):
        jaxsched.param_groups(params, [jaxsched.Rule("w", decay="no")])
    with pytest.raises(ValueError, match=r"layerwise: decay"):
        jaxsched.layerwise(1.5, 3, layer_of)
    with pytest.raises(TypeError, match=r"grouped: groups must come from"):
        jaxsched.grouped(optax.identity(), [], lr=0.1)
    tx = jaxsched.grouped(optax.identity(), jaxsched.param_groups(params), lr=0.1)
    with pytest.raises(ValueError, match=r"grouped: params have another structure"):
        tx.init({"w": jnp.ones(2), "extra": jnp.ones(1)})
    with pytest.raises(ValueError, match=r"decoupled_weight_decay: weight_decay must be >= 0"):
        jaxsched.decoupled_weight_decay(-0.1)
    with pytest.raises(TypeError, match=r"decoupled_from_coupled: lr"):
        jaxsched.decoupled_from_coupled(0.1, "1e-3")
    with pytest.raises(ValueError, match=r"grouped: rule 0 \('default'\) matches parameters "
                                         r"but sets no lr"):
        jaxsched.grouped(optax.identity(), jaxsched.param_groups(params), lr=None)
    with pytest.raises(ValueError, match=r"rules_from_megatron: 1 groups, 2 patterns"):
        jaxsched.rules_from_megatron(jaxsched.megatron.from_args(
            dict(lr=0.1, train_samples=100)), ["a", "b"])
