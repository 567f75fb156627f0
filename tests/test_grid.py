"""jaxsched.grid_search: each candidate's run equals the same run done alone, one compilation
for the grid, candidates split over 8 (fake CPU) devices and run in chunks, bad input."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched

N = 24  # updates per run
B = 6  # batches (eval_every defaults to one epoch of B)
TARGETS = jnp.asarray(np.random.default_rng(0).normal(size=(B, 16)), jnp.float32)
W0 = jnp.asarray(np.random.default_rng(1).normal(size=16), jnp.float32)


def loss_fn(w, t):
    """Elementwise in w: a gradient without a sum over the batch, so the vmapped program has
    nothing to reorder (see test_mlp_within_bound for a model with one)."""
    return jnp.mean((w - t) ** 2 * jnp.linspace(0.5, 2.0, 16))


def val_fn(w):
    return jnp.mean((w - TARGETS.mean(0)) ** 2)


def alone(tx, *, plateau_every=None, metric_val=False):
    """The plain optax loop of one candidate (the run a torch user would launch): its train
    losses. With ``plateau_every``, ``tx`` is ``chain(scale_by_adam(), reduce_lr_on_plateau)``
    fed each epoch's mean train loss with the epoch's last update (as the transform's
    docstring says), or the validation loss after that update through the plateau alone."""

    @jax.jit
    def run(w):
        def body(carry, i):
            w, s, acc = carry
            loss, g = jax.value_and_grad(loss_fn)(w, TARGETS[i % B])
            acc = acc + loss
            if plateau_every is None:
                u, s = tx.update(g, s, w)
            else:
                ready = (i + 1) % plateau_every == 0
                metric = jnp.float32(0) if metric_val else acc / plateau_every
                u, s = tx.update(g, s, w, value=metric, value_ready=ready & (not metric_val))
            w = optax.apply_updates(w, u)
            if metric_val:
                adam, plateau = s
                _, plateau = tx_plateau(tx).update(jnp.zeros(()), plateau, value=val_fn(w),
                                                   value_ready=ready)
                s = (adam, plateau)
            acc = jnp.where((i + 1) % (plateau_every or B) == 0, 0.0, acc)
            return (w, s, acc), loss

        return jax.lax.scan(body, (w, tx.init(w), jnp.float32(0)), jnp.arange(N))[1]

    return np.asarray(run(W0))


PLATEAU = {"patience": 0, "factor": 0.5, "threshold": 0.05}


def tx_plateau(tx):
    """The plateau transform's update (its settings are the test's; its lr lives in the
    state, so any instance steps any state)."""
    del tx
    return jaxsched.reduce_lr_on_plateau(1.0, **PLATEAU)


ORIGINS = {
    "torch StepLR": jaxsched.step_lr(5, gamma=0.5, lr=0.3),
    "DeepSpeed WarmupDecayLR": jaxsched.warmup_decay_lr(N, warmup_num_steps=6,
                                                         warmup_max_lr=0.2),
    "optax cosine": optax.cosine_decay_schedule(0.25, N, alpha=0.1),
}
LRS = [0.01, 0.05, 0.2, 0.6]


@pytest.fixture(scope="module")
def constants():
    return jaxsched.grid_search(loss_fn, W0, TARGETS, optax.sgd, num_steps=N, lrs=LRS)


def test_constants_bitwise_equal_alone(constants):
    for k, lr in enumerate(LRS):
        np.testing.assert_array_equal(constants.losses[k], alone(optax.sgd(lr)), err_msg=k)
        np.testing.assert_array_equal(constants.lrs[k], np.float32(lr))
    assert constants.traces == 1
    assert constants.best == 3 and constants.best_name == "lr=0.6"
    assert constants.first_nonfinite == [None] * 4


def test_three_origins_bitwise_equal_alone():
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.adam, num_steps=N,
                               schedules=list(ORIGINS.values()), names=list(ORIGINS))
    assert res.traces == 1 and res.names == list(ORIGINS)
    for k, s in enumerate(ORIGINS.values()):
        np.testing.assert_array_equal(res.losses[k], alone(optax.adam(s)), err_msg=k)
        # the lr of update i, from the monitor, is the schedule's value at count i
        one = jax.jit(s)  # scalar counts, as optax calls it (a vmapped cos may round apart)
        want = np.asarray([one(jnp.int32(i)) for i in range(N)], np.float32)
        np.testing.assert_array_equal(res.lrs[k], want, err_msg=k)


def test_multipliers_on_one_schedule_bitwise():
    s = jaxsched.cosine_annealing_lr(N, lr=1.0)
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.adam, num_steps=N,
                               schedules=s, lrs=[0.1, 0.3])
    for k, a in enumerate([0.1, 0.3]):
        np.testing.assert_array_equal(res.losses[k],
                                      alone(optax.adam(lambda c, a=a: a * s(c))))


@pytest.mark.parametrize("use_val", [False, True], ids=["train-metric", "val-metric"])
def test_plateau_in_graph_bitwise_equal_alone(use_val):
    settings = PLATEAU
    lrs = [0.05, 0.1, 0.3]
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.adam, num_steps=N, lrs=lrs,
                               plateau=settings, eval_every=3,
                               val_fn=val_fn if use_val else None)
    cut = False
    for k, a in enumerate(lrs):
        tx = optax.chain(optax.scale_by_adam(), jaxsched.reduce_lr_on_plateau(a, **settings))
        np.testing.assert_array_equal(res.losses[k],
                                      alone(tx, plateau_every=3, metric_val=use_val))
        cut |= bool(res.lrs[k, -1] < a)
        assert res.lrs[k, 0] == np.float32(a)
    assert cut, "no plateau cut happened: the test would not see a wrong metric"


def test_plateau_on_some_candidates():
    """The combination: a StepLR candidate with a plateau next to plain ones (which stay
    bitwise the grid without a plateau)."""
    s = [ORIGINS["torch StepLR"], ORIGINS["optax cosine"]]
    plain = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.adam, num_steps=N, schedules=s)
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.adam, num_steps=N,
                               schedules=[*s, s[0]], plateau=PLATEAU, plateau_on=[2],
                               eval_every=3)
    np.testing.assert_array_equal(res.losses[:2], plain.losses)
    np.testing.assert_array_equal(res.lrs[:2], plain.lrs)
    assert (res.lrs[2] <= res.lrs[0]).all() and (res.lrs[2] < res.lrs[0]).any()
    with pytest.raises(ValueError, match="needs plateau settings"):
        jaxsched.grid_search(loss_fn, W0, TARGETS, num_steps=N, lrs=[0.1], plateau_on=[0])
    with pytest.raises(ValueError, match=r"plateau_on\[...\]"):
        jaxsched.grid_search(loss_fn, W0, TARGETS, num_steps=N, lrs=[0.1], plateau=PLATEAU,
                             plateau_on=[1])


def test_nonfinite_candidate_reported_and_others_untouched(constants):
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.sgd, num_steps=N,
                               lrs=[*LRS, 1e30])
    np.testing.assert_array_equal(res.losses[:4], constants.losses)
    assert res.first_nonfinite[:4] == [None] * 4
    assert res.first_nonfinite[4] is not None and res.best == 3
    assert "non-finite from step" in res.table().splitlines()[-1]


def test_chunks_from_memory_budget(constants):
    per = 3 * (16 * 4 + 4 + 4) + 16 * 4  # 3 x (params + sgd's count + loss sum) + params
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.sgd, num_steps=N, lrs=LRS,
                               memory_budget=2 * per + per // 2, sync_every=7)
    assert res.chunk_size == 2 and res.traces == 1
    np.testing.assert_array_equal(res.losses, constants.losses)
    odd = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.sgd, num_steps=N, lrs=LRS[:3],
                               memory_budget=2 * per + per // 2)
    assert odd.traces == 1  # the last chunk is padded to the same shape
    np.testing.assert_array_equal(odd.losses, constants.losses[:3])
    with pytest.raises(ValueError, match="memory_budget=10 bytes holds 0 candidates"):
        jaxsched.grid_search(loss_fn, W0, TARGETS, num_steps=N, lrs=LRS, memory_budget=10)


def test_validation_curve_and_best():
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, num_steps=N, lrs=LRS, val_fn=val_fn,
                               eval_every=5)
    np.testing.assert_array_equal(res.val_steps, [5, 10, 15, 20, 24])
    assert res.val_losses.shape == (4, 5) and np.isfinite(res.val_losses).all()
    assert res.best == int(np.argmin(res.final_val))


def test_mlp_within_bound():
    """With a sum over the batch in the gradient (a bias) XLA:CPU vectorises the reduction
    differently once a candidate axis leads, so a candidate's gradient differs from the lone
    run's in the last bits; the step-0 loss is bitwise equal and stable runs stay within
    1e-5 relative over 40 steps (measured: ~1e-6)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4, 32, 8)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, size=(4, 32)), jnp.int32)
    p0 = {"w": jnp.asarray(rng.normal(size=(8, 16)) * 0.3, jnp.float32), "b": jnp.zeros(16),
          "v": jnp.asarray(rng.normal(size=(16, 3)) * 0.3, jnp.float32)}

    def mlp(p, batch):
        xb, yb = batch
        logits = jax.nn.relu(xb @ p["w"] + p["b"]) @ p["v"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    lrs = [1e-3, 3e-3, 1e-2]
    res = jaxsched.grid_search(mlp, p0, (x, y), optax.adam, num_steps=40, lrs=lrs)

    @jax.jit
    def run(p, lr):
        tx = optax.adam(lr)

        def body(c, i):
            p, s = c
            loss, g = jax.value_and_grad(mlp)(p, (x[i % 4], y[i % 4]))
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), loss
        return jax.lax.scan(body, (p, tx.init(p)), jnp.arange(40))[1]

    for k, lr in enumerate(lrs):
        want = np.asarray(run(p0, jnp.float32(lr)))
        assert res.losses[k, 0] == want[0]
        np.testing.assert_allclose(res.losses[k], want, rtol=1e-5, atol=0)


MULTI = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    sys.path.insert(0, {tests!r})
    import jax, numpy as np, optax, jaxsched
    from test_grid import LRS, N, TARGETS, W0, loss_fn
    assert len(jax.devices()) == 8, jax.devices()
    lrs = [*LRS, 0.3, 0.1, 1e30]  # 7 candidates: padded to 8, one non-finite
    one = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.sgd, num_steps=N, lrs=lrs,
                               devices=1)
    res = jaxsched.grid_search(loss_fn, W0, TARGETS, optax.sgd, num_steps=N, lrs=lrs,
                               sync_every=10)
    assert res.n_devices == 8 and res.traces == 1, (res.n_devices, res.traces)
    np.testing.assert_array_equal(res.losses, one.losses)
    np.testing.assert_array_equal(res.lrs, one.lrs)
    assert res.first_nonfinite[-1] is not None and res.best == one.best == 4
    print("OK")
""")


def test_eight_devices_in_subprocess():
    tests = str(pathlib.Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(pathlib.Path(tests).parent), os.environ.get("PYTHONPATH", "")])}
    try:
        out = subprocess.run([sys.executable, "-c", MULTI.format(tests=tests)], env=env,
                             capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("grid_search on 8 fake CPU devices did not finish in 180 s (an XLA:CPU "
                    "collective deadlock? the host must sync at least every ~30 steps)")
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"lrs": []}, ValueError, "the grid is empty"),
    ({"schedules": []}, ValueError, "the grid is empty"),
    ({}, ValueError, "give the candidates"),
    ({"lrs": [0.1, "x"]}, TypeError, r"lrs\[1\] must be a real number"),
    ({"lrs": [0.1, float("nan")]}, ValueError, r"lrs\[1\] must be finite"),
    ({"lrs": [0.1], "schedules": [optax.constant_schedule(1.0)] * 2}, ValueError,
     "at most one schedule"),
    ({"schedules": [0.1]}, TypeError, r"schedules\[0\] must be callable"),
    ({"lrs": [0.1], "names": ["a", "b"]}, ValueError, "names has 2 entries for 1"),
    ({"lrs": [0.1], "num_steps": 0}, ValueError, "num_steps"),
    ({"lrs": [0.1], "sync_every": 31}, ValueError, "sync_every"),
    ({"lrs": [0.1], "plateau": {"lr": 1.0}}, ValueError, "plateau must not set lr"),
    ({"lrs": [0.1], "plateau": {"factor": 2.0}}, ValueError, "factor"),
    ({"lrs": [0.1], "devices": 9}, ValueError, "devices=9"),
], ids=["empty-lrs", "empty-schedules", "none", "string-lr", "nan-lr", "lrs-and-schedules",
        "not-callable", "names", "zero-steps", "sync", "plateau-lr", "plateau-factor",
        "devices"])
def test_bad_input(kwargs, error, match):
    kwargs = {"num_steps": N, **kwargs}
    with pytest.raises(error, match=match):
        jaxsched.grid_search(loss_fn, W0, TARGETS, **kwargs)


def test_mismatched_batch_shapes():
    with pytest.raises(ValueError, match="one common leading"):
        jaxsched.grid_search(lambda w, b: loss_fn(w, b[0]), W0,
                             (TARGETS, jnp.zeros((B + 1, 2))), num_steps=N, lrs=[0.1])


def test_figure_and_table(constants, tmp_path):
    pytest.importorskip("matplotlib")
    fig = constants.plot(tmp_path / "grid.png")
    top, bottom = fig.axes
    assert "4 candidates" in top.get_title() and bottom.get_yscale() == "log"
    assert bottom.get_xlabel() == "training step" and (tmp_path / "grid.png").stat().st_size
    table = constants.table()
    assert table.splitlines()[0].split()[:3] == ["candidate", "lr", "first"]
    assert table.splitlines()[-1].endswith("best")


def test_cli_sweep(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from jaxsched.tools import cli

    out = tmp_path / "sweep.png"
    assert cli.main(["sweep", "--lrs", "0.001", "0.01", "--steps", "12", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 candidates in one compiled run" in text and "lr=0.01" in text
    assert "best" in text and out.stat().st_size > 0
    spec = ["StepLR step_size=5 gamma=0.5 lr=0.01", "CosineAnnealingLR T_max=12 lr=0.01"]
    assert cli.main(["sweep", "--schedules", *spec, "--steps", "12", "-o", str(out)]) == 0
    assert "CosineAnnealingLR T_max=12 lr=0.01" in capsys.readouterr().out
    assert cli.main(["sweep", "--steps", "12"]) == 2
    assert "give --lrs" in capsys.readouterr().err
    assert cli.main(["sweep", "--lrs", "0.1", "--schedules", *spec]) == 2
    assert "takes one schedule" in capsys.readouterr().err


def test_cli_sweep_without_sklearn(monkeypatch, capsys):
    from jaxsched.tools import cli

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert cli.main(["sweep", "--lrs", "0.01"]) == 2
    assert "pip install 'jaxsched[cli]'" in capsys.readouterr().err


def test_cli_sweep_help(capsys):
    from jaxsched.tools import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sweep", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: jaxsched sweep") and "jaxsched[cli]" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "grid search of lrs or schedules" in capsys.readouterr().out
