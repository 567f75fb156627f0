"""LLM learning-rate presets with their published numbers as defaults.

Every preset is a ``jaxsched.Schedule`` of the step ``k`` (``k = 0`` is the first update).
Phase boundaries are integer step counts computed on the host, so they are exact; the
fractions of training in the papers become ``ceil(fraction * total_steps)`` in exact rational
arithmetic.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import half_cos, to_float
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.transformers.schedules import wsd_factor

__all__ = ["deepseek_llm", "deepseek_v3_steps", "inverse_sqrt", "warmup_stable_decay"]

DECAY_TYPES = ("linear", "cosine", "1-sqrt", "exponential")
WARMUP_TYPES = ("linear", "cosine", "1-sqrt")


def _at_fraction(fn: str, name: str, fraction: float, total: int) -> int:
    """``ceil(fraction * total)`` exactly (``fraction`` as the decimal it was written as)."""
    fraction = check.unit(fn, name, fraction)
    return math.ceil(Fraction(repr(fraction)) * total)


@schedule_factory
def warmup_stable_decay(
    peak_lr: float,
    total_steps: int,
    *,
    warmup_steps: int = 0,
    decay_fraction: float = 0.2,
    decay_steps: int | None = None,
    decay_type: str = "1-sqrt",
    warmup_type: str = "linear",
    min_lr_ratio: float = 0.0,
) -> Schedule:
    """Warmup-stable-decay (WSD): warm up, hold the peak, then a short final decay.

    With ``W`` warmup and ``D`` decay steps out of ``T`` (stable ``S = T - W - D``) and
    ``r = min_lr_ratio``: warmup ``p = k / W``, factor ``p`` (linear), ``(1 - cos(pi p))/2``
    (cosine) or ``1 - sqrt(1 - p)`` (1-sqrt), scaled to ``r + (1 - r) f``; then 1; then with
    ``q = (k - W - S) / D``: ``1 - q`` (linear), ``(1 + cos(pi q)) / 2`` (cosine),
    ``1 - sqrt(q)`` (1-sqrt), scaled to ``r + (1 - r) f``, or ``r ** q`` (exponential, from
    1 down to ``r``); from step ``T`` on, ``r``. ``lr = peak_lr * factor``. The linear,
    cosine and 1-sqrt forms are exactly ``transformers``' ``warmup_stable_decay`` (so the
    warmup starts at ``r * peak_lr``).

    Defaults follow Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond
    Fixed Training Durations" (arXiv:2405.18392): a (1-sqrt) cooldown over the last 20% of
    training matches a cosine schedule. WSD itself is from Hu et al. 2024, "MiniCPM"
    (arXiv:2404.06395), whose decay is exponential.

    Args:
        peak_lr: the stable lr, >= 0.
        total_steps: ``T``, the length of training, >= 1.
        warmup_steps: ``W``, >= 0.
        decay_fraction: ``D = ceil(decay_fraction * T)`` unless ``decay_steps`` is given.
        decay_steps: ``D`` directly.
        decay_type: ``"linear"``, ``"cosine"``, ``"1-sqrt"`` or ``"exponential"``.
        warmup_type: ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
        min_lr_ratio: ``r``, the final lr over the peak, in [0, 1]; > 0 for exponential.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on bad arguments, or ``W + D > T``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.presets.warmup_stable_decay(1.0, 10, warmup_steps=2, decay_steps=4,
        ...                                          decay_type="linear")
        >>> [round(float(s(k)), 3) for k in range(11)]
        [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """
    fn = "jaxsched.presets.warmup_stable_decay"
    peak = check.nonneg(fn, "peak_lr", peak_lr)
    total = check.integer(fn, "total_steps", total_steps, minimum=1)
    w = check.integer(fn, "warmup_steps", warmup_steps, minimum=0)
    if decay_steps is None:
        d = _at_fraction(fn, "decay_fraction", decay_fraction, total)
    else:
        d = check.integer(fn, "decay_steps", decay_steps, minimum=0)
    dt = check.choice(fn, "decay_type", decay_type, DECAY_TYPES)
    wt = check.choice(fn, "warmup_type", warmup_type, WARMUP_TYPES)
    r = check.unit(fn, "min_lr_ratio", min_lr_ratio)
    if dt == "exponential" and r == 0.0:
        raise ValueError(f"{fn}: exponential decay needs min_lr_ratio > 0, got {r!r}")
    if w + d > total:
        raise ValueError(f"{fn}: warmup_steps + decay steps ({w} + {d}) must not exceed "
                         f"total_steps ({total})")
    stable = total - w - d
    return Schedule(
        lambda k: peak * wsd_factor(k, warmup=w, stable=stable, decay=d, warmup_type=wt,
                                    decay_type=dt, min_lr_ratio=r, num_cycles=0.5),
        name=fn, params=dict(peak_lr=peak, total_steps=total, warmup_steps=w, decay_steps=d,
                             decay_type=dt, warmup_type=wt, min_lr_ratio=r))


@schedule_factory
def deepseek_llm(
    total_steps: int,
    *,
    peak_lr: float = 4.2e-4,
    warmup_steps: int = 2000,
    milestones: tuple[float, float] = (0.8, 0.9),
    factors: tuple[float, float] = (0.316, 0.1),
) -> Schedule:
    """DeepSeek LLM's multi-step schedule.

    ``lr = peak * k / W`` for ``k < W`` (linear warmup), then ``peak`` until
    ``m1 = ceil(0.8 T)``, ``0.316 * peak`` until ``m2 = ceil(0.9 T)``, then ``0.1 * peak``.

    From DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
    Longtermism" (arXiv:2401.02954), section 2.3: "the learning rate reaches its maximum
    value after 2000 warmup steps, and then decreases to 31.6% of the maximum value after
    processing 80% of the training tokens. It further reduces to 10% of the maximum value
    after 90% of the tokens." The peak default is the 7B model's 4.2e-4 (67B: 3.2e-4). The
    paper does not give the warmup's shape; it is linear here. Tokens are taken as
    proportional to steps (a constant batch size).

    Args:
        total_steps: ``T``, >= ``warmup_steps``.
        peak_lr: the maximum lr, >= 0.
        warmup_steps: ``W``, >= 0.
        milestones: the fractions of training after which the lr steps down, increasing.
        factors: the lr after each milestone over the peak, in [0, 1].

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on bad arguments or a milestone inside the warmup.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.presets.deepseek_llm(10_000, peak_lr=1.0)
        >>> [round(float(s(k)), 3) for k in (0, 1000, 2000, 7999, 8000, 9000, 10**6)]
        [0.0, 0.5, 1.0, 1.0, 0.316, 0.1, 0.1]
    """
    fn = "jaxsched.presets.deepseek_llm"
    total = check.integer(fn, "total_steps", total_steps, minimum=1)
    peak = check.nonneg(fn, "peak_lr", peak_lr)
    w = check.integer(fn, "warmup_steps", warmup_steps, minimum=0)
    if len(milestones) != 2 or len(factors) != 2:
        raise ValueError(f"{fn}: milestones and factors must have two entries each, got "
                         f"{milestones!r} and {factors!r}")
    m1, m2 = (_at_fraction(fn, "milestones", m, total) for m in milestones)
    f1, f2 = (check.unit(fn, "factors", f) for f in factors)
    if not w <= m1 <= m2:
        raise ValueError(f"{fn}: need warmup_steps <= first milestone <= second milestone, "
                         f"got {w}, {m1}, {m2} (of total_steps={total})")

    def lr(k: jax.Array) -> jax.Array:
        warm = peak * to_float(k) / max(1, w)
        return jnp.where(k < w, warm, jnp.where(k < m1, peak, jnp.where(
            k < m2, to_float(peak * f1), peak * f2)))

    return Schedule(lr, name=fn, params=dict(total_steps=total, peak_lr=peak, warmup_steps=w,
                                             milestone_steps=(m1, m2), factors=(f1, f2)))


# DeepSeek-V3's phases in billions of tokens: constant to 10T, cosine over 4.3T, 333B at
# the decayed lr, 167B at the final lr (14.8T in all).
V3_TOKENS_B = (10_000, 4_300, 333, 167)


@schedule_factory
def deepseek_v3_steps(
    total_steps: int,
    *,
    peak_lr: float = 2.2e-4,
    warmup_steps: int = 2000,
    decayed_lr: float = 2.2e-5,
    final_lr: float = 7.3e-6,
    tokens_b: tuple[int, int, int, int] = V3_TOKENS_B,
) -> Schedule:
    """DeepSeek-V3's pre-training schedule approximated in steps: warmup, constant, cosine,
    two constant tails, with steps taken as proportional to tokens (the paper's schedule,
    in tokens with its batch ramp, is ``jaxsched.presets.deepseek_v3``; it was
    ``deepseek_v3`` before).

    ``lr = peak * k / W`` for ``k < W``; ``peak`` until ``b1``; from ``b1`` to ``b2`` a
    cosine ``decayed + (peak - decayed) (1 + cos(pi (k - b1) / (b2 - b1))) / 2``;
    ``decayed`` until ``b3``; ``final`` after. The boundaries split ``total_steps`` in
    proportion to the phases' tokens: ``b_i = floor(T * C_i / C)`` with ``C_i`` the tokens
    up to phase ``i``'s end (10T, 14.3T, 14.633T of ``C`` = 14.8T).

    From DeepSeek-AI 2024, "DeepSeek-V3 Technical Report" (arXiv:2412.19437), section 4.2:
    "we first linearly increase it from 0 to 2.2e-4 during the first 2K steps. Then, we keep
    a constant learning rate of 2.2e-4 until the model consumes 10T training tokens.
    Subsequently, we gradually decay the learning rate to 2.2e-5 in 4.3T tokens, following a
    cosine decay curve. During the training of the final 500B tokens, we keep a constant
    learning rate of 2.2e-5 in the first 333B tokens, and switch to another constant
    learning rate of 7.3e-6 in the remaining 167B tokens." The paper's batch-size ramp (3072
    to 15360 sequences over the first 469B tokens) is not modelled: steps are taken as
    proportional to tokens; pass ``tokens_b`` for other splits.

    Args:
        total_steps: ``T``, the steps of the whole run.
        peak_lr: the warmup's target and the constant phase's lr.
        warmup_steps: ``W``, <= ``b1``.
        decayed_lr: the cosine's end and the first tail's lr.
        final_lr: the last tail's lr.
        tokens_b: the four phases' tokens (any unit; billions by default), positive.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on bad arguments, or phases too short for ``total_steps``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.presets.deepseek_v3_steps(14_800)
        >>> [f"{float(s(k)):.3g}" for k in (2000, 9999, 14300, 14633, 14799)]
        ['0.00022', '0.00022', '2.2e-05', '7.3e-06', '7.3e-06']
    """
    fn = "jaxsched.presets.deepseek_v3_steps"
    total = check.integer(fn, "total_steps", total_steps, minimum=1)
    peak = check.nonneg(fn, "peak_lr", peak_lr)
    w = check.integer(fn, "warmup_steps", warmup_steps, minimum=0)
    decayed = check.nonneg(fn, "decayed_lr", decayed_lr)
    final = check.nonneg(fn, "final_lr", final_lr)
    check.ordered(fn, "decayed_lr", decayed, "peak_lr", peak)
    check.ordered(fn, "final_lr", final, "decayed_lr", decayed)
    if len(tokens_b) != 4:
        raise ValueError(f"{fn}: tokens_b must have four phases, got {tokens_b!r}")
    tokens = [check.integer(fn, "tokens_b", t, minimum=1, maximum=10**9) for t in tokens_b]
    cum = [sum(tokens[: i + 1]) for i in range(4)]
    b1, b2, b3 = (total * c // cum[3] for c in cum[:3])
    if not w <= b1 < b2:
        raise ValueError(f"{fn}: need warmup_steps <= constant-phase end < cosine end, got "
                         f"{w}, {b1}, {b2} (total_steps={total} is too short)")
    span = b2 - b1

    def lr(k: jax.Array) -> jax.Array:
        warm = peak * to_float(k) / max(1, w)
        # (1 + cos(pi (k - b1) / span)) / 2 from the remaining steps b2 - k: exact near b2
        cosine = decayed + (peak - decayed) * half_cos(jnp.clip(b2 - k, 0, span), span)
        return jnp.where(k < w, warm, jnp.where(k < b1, peak, jnp.where(
            k < b2, cosine, jnp.where(k < b3, to_float(decayed), final))))

    return Schedule(lr, name=fn, params=dict(
        total_steps=total, peak_lr=peak, warmup_steps=w, decayed_lr=decayed, final_lr=final,
        boundaries=(b1, b2, b3)))


@schedule_factory
def inverse_sqrt(
    peak_lr: float | None = None,
    warmup_steps: int = 4000,
    *,
    d_model: int | None = None,
) -> Schedule:
    """The Transformer's inverse-square-root schedule (linear warmup, then ``1/sqrt``).

    With ``s = k + 1`` (the paper counts steps from 1): ``lr = peak * min(s / W,
    sqrt(W / s))``, the peak reached at ``s = W``. Given ``d_model`` instead of ``peak_lr``,
    ``peak = d_model ** -0.5 * W ** -0.5``, the paper's
    ``d_model ** -0.5 * min(s ** -0.5, s * W ** -1.5)`` exactly.

    From Vaswani et al. 2017, "Attention Is All You Need" (arXiv:1706.03762), section 5.3,
    with ``warmup_steps = 4000``.

    Args:
        peak_lr: the lr at step ``W``; or None with ``d_model``.
        warmup_steps: ``W``, >= 1.
        d_model: the model width, to take the paper's scale.

    Returns:
        A ``Schedule``.

    Raises:
        TypeError, ValueError: on bad arguments, or neither / both of peak_lr and d_model.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.presets.inverse_sqrt(1.0, warmup_steps=4)
        >>> [round(float(s(k)), 4) for k in (0, 3, 15)]
        [0.25, 1.0, 0.5]
    """
    fn = "jaxsched.presets.inverse_sqrt"
    w = check.integer(fn, "warmup_steps", warmup_steps, minimum=1)
    if (peak_lr is None) == (d_model is None):
        raise ValueError(f"{fn}: give exactly one of peak_lr and d_model, got "
                         f"peak_lr={peak_lr!r}, d_model={d_model!r}")
    if d_model is not None:
        peak = check.integer(fn, "d_model", d_model, minimum=1) ** -0.5 * w ** -0.5
    else:
        peak = check.nonneg(fn, "peak_lr", peak_lr)

    def lr(k: jax.Array) -> jax.Array:
        s = to_float(k) + 1.0
        return peak * jnp.minimum(s / w, jnp.sqrt(w / s))

    return Schedule(lr, name=fn, params=dict(peak_lr=peak, warmup_steps=w))
