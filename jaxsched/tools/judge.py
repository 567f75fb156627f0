"""The three-way rule that decides parity: jaxsched, the reference, and the exact value of
the reference's formula (``jaxsched.tools.oracle``), per step.

float64: ``|ours - exact| <= 1e-12 |exact|``, or no further from exact than the reference
is at that step; float32: ``|ours - exact| <= 2e-6`` of the curve's peak. ``compare`` /
``Errors`` are the plain two-way metrics for two curves where no exact curve is at hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FLOAT32_PEAK_TOL", "FLOAT64_REL_TOL", "Errors", "ThreeWay", "compare", "judge",
           "within_tolerance"]

FLOAT64_REL_TOL = 1e-12
FLOAT32_PEAK_TOL = 2e-6


@dataclass(frozen=True)
class Errors:
    """Worst errors of one curve against its reference: ``rel`` over reference values above
    rounding noise, ``noise`` (absolute, in units of the peak) over the values at it, and
    ``peak`` (absolute, in units of the peak) over all."""

    rel: float
    peak: float
    noise: float = 0.0

    def ok(self, *, x64: bool) -> bool:
        if x64:
            return self.rel <= FLOAT64_REL_TOL and self.noise <= NOISE
        return self.peak <= FLOAT32_PEAK_TOL


# Where the reference itself is rounding noise around zero (|ref| <= 4 ulps of the curve's
# peak, e.g. torch's recursive LinearLR ending at -7e-17 instead of 0, or a float64
# subnormal that XLA flushes to 0), a relative error means nothing: there the float64
# contract is an absolute error of at most 4 ulps of the peak.
NOISE = 4 * 2.0**-52


def compare(ours: np.ndarray, ref: Any, peak: float | None = None) -> Errors:
    """``rel``, ``peak`` and ``noise`` errors of ``ours`` against ``ref`` (same shape).

    ``peak`` is the curve's peak; by default ``max |ref|``. Pass it when ``ref`` is only a
    window of the curve (a few steps far out), whose own maximum is not the curve's."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        raise ValueError(f"jaxsched.parity.compare: shapes differ, {ours.shape} vs {ref.shape}")
    if not np.all(np.isfinite(ours)):
        return Errors(float("inf"), float("inf"), float("inf"))
    diff = np.abs(ours - ref)
    if peak is None:
        peak = float(np.max(np.abs(ref), initial=0.0)) or 1.0
    small = np.abs(ref) <= NOISE * peak
    rel = np.where(small, 0.0, diff / np.where(small, 1.0, np.abs(ref)))
    return Errors(float(np.max(rel, initial=0.0)), float(np.max(diff, initial=0.0)) / peak,
                  float(np.max(np.where(small, diff, 0.0), initial=0.0)) / peak)


# float64's smallest normal number. XLA flushes subnormal results to zero, so below it a
# relative error means nothing: there the float64 rule is an absolute error of at most this.
TINY = float(np.finfo(np.float64).tiny)


def _relative(err: np.ndarray, to: np.ndarray, x64: bool, peak: float) -> np.ndarray:
    """``err / |to|`` in float64, where a value below float64's smallest normal counts as
    exact when ``err`` is at most that (XLA flushes subnormals to 0); ``err / peak`` in
    float32."""
    if not x64:
        return err / peak
    mag = np.abs(to)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mag >= TINY, err / np.where(mag >= TINY, mag, 1.0),
                        np.where(err <= TINY, 0.0, np.inf))


@dataclass(frozen=True)
class ThreeWay:
    """One curve judged three ways against the exact value of the reference's formula.

    ``ours`` and ``ref`` are the worst errors of jaxsched and of the reference against the
    exact curve, ``ours_ref`` jaxsched's against the reference (``|ours - ref|``, over the
    same ``|exact|``: a reference value of 0 does not make it infinite): relative
    (``|x - exact| / |exact|``) in float64, in units of the curve's peak in float32. For
    ``ours_ref``, steps whose exact value is within rounding noise of zero (``NOISE`` of the
    peak; a cosine's end) count in units of the peak, where a relative error means nothing;
    ``ours_ref_of_peak`` says the worst came from such a step. Exact
    values below float64's smallest normal (``TINY``) are matched to within ``TINY``, since
    XLA flushes subnormal results to zero. ``ok`` applies the rule per step:
    float64 ``|ours - exact| <= 1e-12 |exact|``, or no further from exact than the reference
    is at that step; float32 ``|ours - exact| <= 2e-6 peak``. ``worst_step`` is the step of
    ``ours``. ``ref`` and ``ours_ref`` are ``None`` without a reference curve.
    """

    ours: float
    ref: float | None
    ours_ref: float | None
    ok: bool
    worst_step: int = -1
    x64: bool = True
    ours_ref_of_peak: bool = False


def judge(ours: Any, exact: Any, ref: Any = None, *, x64: bool, peak: float | None = None,
          steps: Any = None) -> ThreeWay:
    """Judges ``ours`` against ``exact`` (and ``ref``, if given) by the three-way rule.

    ``peak`` is the curve's peak (default ``max |exact|``); ``steps`` labels the entries for
    ``worst_step``. A non-finite value of ours fails.
    """
    ours = np.asarray(ours, np.float64)
    exact = np.asarray(exact, np.float64)
    if ours.shape != exact.shape or (ref is not None and np.shape(ref) != exact.shape):
        raise ValueError(f"jaxsched.parity.judge: shapes differ, ours {ours.shape}, exact "
                         f"{exact.shape}, ref {None if ref is None else np.shape(ref)}")
    if peak is None:
        peak = float(np.max(np.abs(exact), initial=0.0)) or 1.0
    err = np.abs(ours - exact)
    rel = np.where(np.isfinite(ours), _relative(err, exact, x64, peak), np.inf)
    ok = rel <= (FLOAT64_REL_TOL if x64 else FLOAT32_PEAK_TOL)
    ref_rel = ours_ref = None
    of_peak = False
    if ref is not None:
        ref = np.asarray(ref, np.float64)
        ref_err = np.abs(ref - exact)
        if x64:
            ok |= np.isfinite(ours) & (err <= ref_err)
        ref_rel = float(np.max(_relative(ref_err, exact, x64, peak), initial=0.0))
        near_zero = np.abs(exact) <= NOISE * peak
        apart = np.abs(ours - ref)
        between = np.where(near_zero, apart / peak, _relative(apart, exact, x64, peak))
        ours_ref = float(np.max(between, initial=0.0))
        of_peak = x64 and ours_ref > 0 and bool(near_zero[np.argmax(between)])
    worst = int(np.argmax(rel)) if rel.size else 0
    label = int(np.ravel(steps)[worst]) if steps is not None and rel.size else worst
    return ThreeWay(float(np.max(rel, initial=0.0)), ref_rel, ours_ref, bool(np.all(ok)),
                    label, x64, of_peak)


def _judge_rows(ours: np.ndarray, exact: np.ndarray | None, ref: np.ndarray, *, x64: bool,
                steps: Any) -> ThreeWay:
    """``judge`` per param group (each against its own peak), merged to the worst. Without
    an exact curve the reference stands in for it (a two-way comparison)."""
    ours, ref = np.atleast_2d(ours), np.atleast_2d(np.asarray(ref, np.float64))
    rows = [judge(o, r if exact is None else e, None if exact is None else r, x64=x64,
                  steps=steps)
            for o, r, e in zip(ours, ref, ref if exact is None else np.atleast_2d(exact),
                               strict=True)]
    worst = max(rows, key=lambda v: v.ours)
    refs = [v.ref for v in rows if v.ref is not None]
    apart = max((v for v in rows if v.ours_ref is not None), key=lambda v: v.ours_ref,
                default=None)
    return ThreeWay(worst.ours, max(refs) if refs else None,
                    None if apart is None else apart.ours_ref, all(v.ok for v in rows),
                    worst.worst_step, x64, apart is not None and apart.ours_ref_of_peak)


def within_tolerance(label: str, errors: Errors | ThreeWay) -> bool:
    if isinstance(errors, ThreeWay):
        return errors.ok
    return errors.ok(x64=not label.startswith("pure32"))
