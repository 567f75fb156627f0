"""``GridResult``: the curves of a ``jaxsched.grid_search`` run, its table and its figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GridResult"]


@dataclass(frozen=True)
class GridResult:
    """The per-candidate curves of a grid search and the best candidate.

    Attributes:
        names: the K candidate labels.
        losses: ``(K, N)`` train loss of each step's batch before that step's update.
        lrs: ``(K, N)`` the lr each update used, read from the optimizer state
            (``jaxsched.hyperparams``).
        val_steps: the update counts after which the validation loss was measured (every
            ``eval_every``-th update and the last), or ``None`` without ``val_fn``.
        val_losses: ``(K, len(val_steps))`` or ``None``.
        final_train: ``(K,)`` mean train loss over the last ``max(1, N // 10)`` steps.
        final_val: ``(K,)`` the last validation loss, or ``None``.
        first_nonfinite: per candidate, the first step whose train loss (or a validation
            loss measured at or before it) is not finite, or ``None``.
        best: the index of the lowest ``final_val`` (else ``final_train``) among the
            candidates whose losses stayed finite; ``None`` if none did.
        chunk_size: candidates run together per compiled call sequence.
        n_devices: devices the candidates were split over.
        traces: times the training program was traced (1: one compilation for the grid).
    """

    names: list[str]
    losses: np.ndarray
    lrs: np.ndarray
    val_steps: np.ndarray | None
    val_losses: np.ndarray | None
    final_train: np.ndarray
    final_val: np.ndarray | None
    first_nonfinite: list[int | None]
    best: int | None
    chunk_size: int
    n_devices: int
    traces: int

    @classmethod
    def build(cls, *, names: list[str], losses: np.ndarray, lrs: np.ndarray,
              val_steps: np.ndarray | None, val_losses: np.ndarray | None, chunk_size: int,
              n_devices: int, traces: int) -> GridResult:
        """Derives the final losses, the failures and the best candidate from the curves."""
        n = losses.shape[1]
        tail = max(1, n // 10)
        with np.errstate(invalid="ignore", over="ignore"):
            final_train = losses[:, -tail:].astype(np.float64).mean(axis=1)
        final_val = None if val_losses is None else val_losses[:, -1].astype(np.float64)
        first: list[int | None] = []
        for k in range(len(names)):
            bad = ~np.isfinite(losses[k])
            if val_losses is not None:  # a non-finite validation after update s: step s - 1
                for s, v in zip(val_steps, val_losses[k], strict=True):
                    bad[s - 1] |= not np.isfinite(v)
            first.append(int(np.argmax(bad)) if bad.any() else None)
        score = final_train if final_val is None else final_val
        ok = [k for k in range(len(names)) if first[k] is None and np.isfinite(score[k])]
        best = min(ok, key=lambda k: score[k]) if ok else None
        return cls(names=list(names), losses=losses, lrs=lrs, val_steps=val_steps,
                   val_losses=val_losses, final_train=final_train, final_val=final_val,
                   first_nonfinite=first, best=best, chunk_size=chunk_size,
                   n_devices=n_devices, traces=traces)

    @property
    def best_name(self) -> str | None:
        """The best candidate's label."""
        return None if self.best is None else self.names[self.best]

    def table(self) -> str:
        """A plain-text table: candidate, lr at the first and last update, final losses,
        and a note (best, or the step where the loss stopped being finite)."""
        rows = [("candidate", "lr first", "lr last", "final train", "final val", "")]
        for k, name in enumerate(self.names):
            note = ("non-finite from step " + str(self.first_nonfinite[k])
                    if self.first_nonfinite[k] is not None else "")
            note = "best" if k == self.best else note
            val = "-" if self.final_val is None else f"{self.final_val[k]:.4g}"
            rows.append((name, f"{self.lrs[k, 0]:.4g}", f"{self.lrs[k, -1]:.4g}",
                         f"{self.final_train[k]:.4g}", val, note))
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                 for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def plot(self, path: Any = None, *, title: str | None = None, log_loss: bool | None = None,
             smooth: int | None = None) -> Any:
        """Loss against step per candidate above the lr each update used: the per-batch
        train loss faint, its trailing mean over ``smooth`` steps (default ``N // 25``) as
        the line, the validation loss as dots; a non-finite run ends in a red cross. Saves
        a PNG to ``path`` if given; returns the figure."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        k, n = self.losses.shape
        steps = np.arange(n)
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 2]})
        colours = plt.cm.viridis(np.linspace(0, 0.9, k)) if k > 10 else [
            f"C{j}" for j in range(k)]
        finite = self.losses[np.isfinite(self.losses)]
        window = max(1, n // 25) if smooth is None else max(1, int(smooth))
        for j, name in enumerate(self.names):
            label = name + (" (best)" if j == self.best else "")
            lw = 2.2 if j == self.best else 1.2
            top.plot(steps, self.losses[j], color=colours[j], lw=0.6, alpha=0.25)
            top.plot(steps, _trailing_mean(self.losses[j], window), color=colours[j], lw=lw,
                     label=label)
            if self.val_losses is not None:
                top.plot(self.val_steps - 1, self.val_losses[j], "o--", ms=3.5, lw=0.9,
                         color=colours[j])
            stop = self.first_nonfinite[j]
            if stop is not None and stop > 0 and finite.size:
                last = self.losses[j, stop - 1]
                top.plot(stop - 1, last if np.isfinite(last) else finite.max(), "x",
                         color="red", ms=9, mew=2)
            bottom.plot(steps, self.lrs[j], color=colours[j], lw=lw)
        if log_loss is None:
            log_loss = finite.size > 0 and finite.min() > 0 and finite.max() > 10 * finite.min()
        if log_loss:
            top.set_yscale("log")
        lr_pos = self.lrs[np.isfinite(self.lrs) & (self.lrs > 0)]
        if lr_pos.size and lr_pos.max() > 10 * lr_pos.min():
            bottom.set_yscale("log")
        what = f"train loss (faint: per batch; line: mean of {window} steps)"
        top.set_ylabel(what + ("\ndots: validation loss" if self.val_losses is not None
                               else ""))
        bottom.set_ylabel("learning rate used")
        bottom.set_xlabel("training step")
        top.grid(alpha=0.3, which="both")
        bottom.grid(alpha=0.3, which="both")
        top.legend(fontsize=7, ncol=2 if k > 6 else 1, loc="upper right")
        top.set_title(title or f"Grid search: {k} candidates x {n} steps"
                      + (f", best: {self.best_name}" if self.best is not None else ""))
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each step (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64))])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)
