"""``find_lr``: the learning-rate range test as one compiled loop.

The lr grows every step from ``start_lr`` to ``end_lr`` (exponentially or linearly) while
the model trains on the given batches; the loss is recorded after every update and the sweep
stops when the loss diverges. The whole sweep is one ``jax.jit``-compiled ``lax.while_loop``:
no host round trip per step, one transfer of the curves at the end. The caller's params are
not modified (JAX arrays are immutable; nothing is donated).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsched.core import checks as check
from jaxsched.core.extras import require

__all__ = ["LRFinderResult", "find_lr"]

MODES = ("exp", "linear")


@dataclass(frozen=True)
class LRFinderResult:
    """The curves of an LR range test and the lrs they suggest.

    Attributes:
        lrs: the lr of each completed update.
        losses: the loss right after each of those updates (measured on the next batch).
        smoothed: ``losses`` smoothed by a bias-corrected exponential moving average.
        diverged: whether the sweep stopped on divergence before ``end_lr``.
        divergence_lr: the lr above which an update makes the loss grow, estimated from the
            growth of the final rise with a local quadratic model (``2 / lambda_max`` of
            the Hessian for a quadratic loss; see ``_divergence``); ``None`` without
            divergence.
        suggestions: from the final descent of the smoothed loss into its minimum below
            ``divergence_lr`` (from the last point where it had made less than a quarter of
            its total progress; earlier, its slope is batch noise or the creep of a tiny lr),
            each capped at half ``divergence_lr``: ``"valley"`` (the geometric middle of that
            descent), ``"steepest"`` (its steepest slope against log lr, over +-3 points)
            and ``"minimum/10"`` (a tenth of the lr at the minimum). Validated on quadratic
            problems whose divergence lr ``2 / lambda_max`` is known, clean and with noisy
            mini-batches (``tests/test_lr_finder_validation.py``): every suggestion lands
            between 1/30 and 1/2.5 of it. Use ``"valley"`` (``suggestion``); ``"minimum/10"``
            is the most cautious.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    diverged: bool
    divergence_lr: float | None
    suggestions: dict[str, float] = field(default_factory=dict)
    mode: str = "exp"

    @property
    def suggestion(self) -> float:
        """The ``"valley"`` suggestion."""
        return self.suggestions["valley"]

    def plot(self, ax: Any = None, path: Any = None) -> Any:
        """Draws the raw and smoothed loss against the lr, with the suggestions and the
        divergence point marked; saves a PNG to ``path`` if given. Returns the axes."""
        matplotlib = require("matplotlib", "LRFinderResult.plot")
        if ax is None and path is not None:
            matplotlib.use("Agg")
        plt = require("matplotlib.pyplot", "LRFinderResult.plot")

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses, color="0.75", lw=1, label="loss")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", lw=1.6, label="smoothed")
        colours = {"valley": "tab:green", "steepest": "tab:orange", "minimum/10": "tab:purple"}
        for name, lr in self.suggestions.items():
            ax.axvline(lr, color=colours.get(name, "k"), ls="--", lw=1,
                       label=f"{name}: {lr:.2e}")
        if self.divergence_lr is not None:
            ax.axvline(self.divergence_lr, color="tab:red", lw=1,
                       label=f"divergence: {self.divergence_lr:.2e}")
        if self.mode == "exp":
            ax.set_xscale("log")
        below = self.lrs < (self.divergence_lr or math.inf) * 1.5
        finite = self.smoothed[np.isfinite(self.smoothed) & below]
        if finite.size:  # the smoothed curve up to just past divergence, with some room
            low, high = float(finite.min()), float(finite.max())
            span = (high - low) or abs(high) or 1.0
            ax.set_ylim(low - 0.1 * span, high + 0.3 * span)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("LR range test")
        ax.legend(fontsize=7)
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=100)
        return ax


def _sweep(start: float, end: float, n: int, mode: str) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / max(1, n - 1)
    if mode == "exp":
        return start * (end / start) ** t
    return start + (end - start) * t


def _window(smoothed: np.ndarray, drop: float = 0.25) -> tuple[int, int]:
    """``(a, b)``: the final descent of the smoothed loss into its minimum ``b``, from the
    last point ``a`` above ``start - drop * (start - minimum)`` (``start``: the median of
    five points after the first few, whose bias-corrected average is still a handful of
    noisy batches and is skipped). Before ``a`` the loss has barely moved (its slope there
    is noise, or the slow creep of a tiny lr), so no suggestion comes from it."""
    skip = min(5, len(smoothed) // 10)
    b = skip + int(np.argmin(smoothed[skip:]))
    start, low = float(np.median(smoothed[skip: skip + 5])), float(smoothed[b])
    above = np.nonzero(smoothed[: b + 1] > start - drop * (start - low))[0]
    return (min(int(above[-1]) + 1, b) if above.size else skip), b


def _suggest(lrs: np.ndarray, smoothed: np.ndarray, cap: float) -> dict[str, float]:
    """The suggestions, each below ``cap`` (half the divergence lr, or inf)."""
    if len(lrs) < 3:
        return {"minimum/10": float(lrs[int(np.argmin(smoothed))] / 10)} if len(lrs) else {}
    a, b = _window(smoothed)
    log_lr = np.log(lrs)
    # the slope against log lr over +-3 points (a centred difference damps the noise)
    k = 3
    lo, hi = np.maximum(np.arange(len(lrs)) - k, 0), np.minimum(np.arange(len(lrs)) + k,
                                                               len(lrs) - 1)
    slope = (smoothed[hi] - smoothed[lo]) / np.maximum(log_lr[hi] - log_lr[lo], 1e-300)
    steep = a + int(np.argmin(slope[a: b + 1]))
    return {"valley": float(min(np.exp((log_lr[a] + log_lr[b]) / 2), cap)),
            "steepest": float(min(lrs[steep], cap)),
            "minimum/10": float(min(lrs[b] / 10, cap))}


def find_lr(
    loss_fn: Callable[[Any, Any], jax.Array],
    params: Any,
    batches: Any,
    optimizer: Callable[..., optax.GradientTransformation] = optax.sgd,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    beta: float = 0.98,
    diverge_threshold: float = 4.0,
) -> LRFinderResult:
    """Runs an LR range test and suggests a learning rate.

    Update ``i`` uses ``lr_i = start * (end / start) ** (i / (N - 1))`` (exp) or
    ``start + (end - start) * i / (N - 1)`` (linear) on batch ``i mod B``; its loss is
    measured on the next batch. The smoothed loss is ``a_i / (1 - beta ** (i + 1))`` with
    ``a_i = beta a_{i-1} + (1 - beta) loss_i``; the sweep stops once it exceeds
    ``diverge_threshold`` times its minimum so far, or the loss is not finite.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``, differentiable in ``params``. For a
            Flax nnx model, split it (``graphdef, state = nnx.split(model)``) and merge in
            the loss.
        params: the initial parameters (a pytree); not modified.
        batches: a pytree whose leaves have a leading axis of ``B`` batches.
        optimizer: an optax optimizer factory taking the lr first, e.g. ``optax.adam`` or
            ``functools.partial(optax.sgd, momentum=0.9)``.
        start_lr: the first lr, > 0.
        end_lr: the last lr, > ``start_lr``.
        num_steps: ``N``, the number of updates, >= 2.
        mode: ``"exp"`` or ``"linear"``.
        beta: the smoothing factor, in [0, 1).
        diverge_threshold: the stop criterion's multiple of the best smoothed loss, > 1.

    Returns:
        An ``LRFinderResult`` with the curves, the divergence point and the suggestions.

    Raises:
        TypeError, ValueError: on bad arguments or batches without a common leading axis.

    Example:
        >>> import jax.numpy as jnp, jaxsched
        >>> x = jnp.linspace(-1, 1, 32)[None, :, None]      # one batch of 32 points
        >>> loss = lambda w, b: jnp.mean((b * w - 3 * b) ** 2)
        >>> res = jaxsched.find_lr(loss, jnp.zeros(()), x, start_lr=1e-3, end_lr=100.0)
        >>> res.diverged, 1e-2 < res.suggestion < 5.0
        (True, True)
    """
    fn = "jaxsched.find_lr"
    if not callable(loss_fn):
        raise TypeError(f"{fn}: loss_fn must be callable, got {loss_fn!r}")
    if not callable(optimizer):
        raise TypeError(f"{fn}: optimizer must be an optax optimizer factory such as "
                        f"optax.adam, got {optimizer!r}")
    start = check.real(fn, "start_lr", start_lr)
    end = check.real(fn, "end_lr", end_lr)
    if not 0 < start < end:
        raise ValueError(f"{fn}: need 0 < start_lr < end_lr, got start_lr={start!r}, "
                         f"end_lr={end!r}")
    n = check.integer(fn, "num_steps", num_steps, minimum=2, maximum=10**7)
    mode = check.choice(fn, "mode", mode, MODES)
    beta = check.real(fn, "beta", beta)
    if not 0 <= beta < 1:
        raise ValueError(f"{fn}: beta must be in [0, 1), got {beta!r}")
    threshold = check.real(fn, "diverge_threshold", diverge_threshold)
    if threshold <= 1:
        raise ValueError(f"{fn}: diverge_threshold must be > 1, got {threshold!r}")
    batches, n_batches = check.batches(fn, batches)

    lrs = _sweep(start, end, n, mode)
    lr_table = jnp.asarray(lrs, dtype=jnp.float32)
    tx = optimizer(lambda count: lr_table[jnp.minimum(count, n - 1)])
    curves, stop = _run(loss_fn, tx, params, batches, n, n_batches, beta, threshold)
    stop = int(stop)
    done, smoothed = np.asarray(curves, dtype=np.float64)[:, :stop]
    lrs = lrs[:stop]
    diverged = stop < n or (stop > 0 and not np.isfinite(done[-1]))
    finite = np.isfinite(done)
    kept_lrs, kept = lrs[finite], done[finite]
    divergence_lr = _divergence(kept_lrs, kept) if diverged else None
    # suggestions come from the sweep below the divergence point only: the smoothed loss
    # lags, and slow directions can keep the raw loss falling a while past it
    ok = np.isfinite(smoothed) & (lrs < (divergence_lr or math.inf))
    return LRFinderResult(lrs=lrs, losses=done, smoothed=smoothed, diverged=bool(diverged),
                          divergence_lr=divergence_lr,
                          suggestions=_suggest(lrs[ok], smoothed[ok],
                                               (divergence_lr or math.inf) / 2), mode=mode)


def _divergence(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """The lr above which an update makes the loss grow, from the final rise of the loss.

    Near a minimum the loss is locally quadratic, and an update with lr ``eta`` multiplies
    the excess loss along the sharpest direction (curvature ``lam``) by ``(eta lam - 1)**2``,
    so it grows once ``eta > 2 / lam``. Once that direction dominates (the last updates of the
    final rise; the first is left out, its excess over the best loss being ill-defined), each
    update gives ``lam = (g + 1) / eta`` with ``g = sqrt(excess_i / excess_{i-1})``; the
    median of the last three is taken and ``2 / lam`` returned (exact for a quadratic), but
    never above the lr where the final rise began, which is the fallback."""
    if len(losses) < 2:
        return None
    rise = len(losses) - 1
    while rise > 0 and losses[rise] > losses[rise - 1]:
        rise -= 1
    start_lr = float(lrs[min(rise + 1, len(losses) - 1)])
    excess = losses - losses.min()
    pairs = [i for i in range(rise + 1, len(losses)) if excess[i - 1] > 0]
    if len(pairs) >= 2:
        pairs = pairs[1:]
    pairs = pairs[-3:]
    if not pairs:
        return start_lr
    idx = np.asarray(pairs)
    lam = np.median((np.sqrt(excess[idx] / excess[idx - 1]) + 1.0) / lrs[idx])
    return float(min(2.0 / lam, start_lr))


def _run(loss_fn: Callable[[Any, Any], jax.Array], tx: optax.GradientTransformation,
         params: Any, batches: Any, n: int, n_batches: int, beta: float, threshold: float
         ) -> tuple[jax.Array, jax.Array]:
    """The compiled sweep: row 0 of ``curves`` is the loss after update ``i``, row 1 the
    smoothed loss that decides the stop; returns them and the number of updates made."""
    grad_fn = jax.value_and_grad(loss_fn)

    def batch(i: jax.Array) -> Any:
        return jax.tree.map(lambda x: x[i % n_batches], batches)

    def cond(carry: tuple[Any, ...]) -> jax.Array:
        i, *_, stopped = carry
        return jnp.logical_and(i < n, jnp.logical_not(stopped))

    def body(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        i, p, opt_state, curves, avg, best, stopped = carry
        _, grads = grad_fn(p, batch(i))
        updates, opt_state = tx.update(grads, opt_state, p)
        p = optax.apply_updates(p, updates)
        loss = jnp.asarray(loss_fn(p, batch(i + 1)), jnp.float32)
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1).astype(jnp.float32))
        curves = curves.at[:, i].set(jnp.stack([loss, smooth]))
        best = jnp.minimum(best, smooth)
        stopped = jnp.logical_or(~jnp.isfinite(loss), smooth > threshold * best)
        return i + 1, p, opt_state, curves, avg, best, stopped

    @jax.jit
    def run(params: Any) -> tuple[jax.Array, jax.Array]:
        init = (jnp.int32(0), params, tx.init(params), jnp.full((2, n), jnp.nan, jnp.float32),
                jnp.float32(0.0), jnp.float32(math.inf), jnp.bool_(False))
        i, *_ = out = jax.lax.while_loop(cond, body, init)
        return out[3], i

    return run(params)
