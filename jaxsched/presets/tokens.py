"""DeepSeek-V3's learning rate as its paper defines it: in consumed tokens, with its batch-size
ramp, as a schedule of the optimizer step.

The run is counted in Megatron's way: iteration ``k`` consumes the batch of the ramp-up
segment it is in (``jaxsched.rampup_table``), and its lr is the schedule's value at the tokens
consumed *before* it. Every consumed count is a multiple of ``g``, the gcd of the ramp's batch
sizes (768 sequences by default), so the step is turned into ``u``, the consumed count in
units of ``g`` sequences (at most 4.7e6 for the 14.8T-token run: an int32 in either x64
mode). Phase boundaries are integer comparisons on ``u`` (thresholds ceil'd on the host in
exact rational arithmetic); the cosine is ``sin(pi/2 rest / span)**2`` of the tokens left to
its end, ``rest = (q - u) + f`` with ``q + f`` the end in units (an exact integer
difference plus a constant fraction), so it is exact to float rounding in both dtypes, at
every step of the run and past it (the last phase holds for every later step, so the step
is clamped where ``u`` would leave int32: the value there is the same).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import int64_counts, piecewise_linear, to_float
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.loop.clocks import rampup_table

__all__ = ["V3_TOKENS", "deepseek_v3"]

# The paper's phases in tokens: constant to 10T, cosine over 4.3T, 333B at the decayed lr,
# 167B at the final lr (14.8T in all).
V3_TOKENS = (10 * 10**12, 43 * 10**11, 333 * 10**9, 167 * 10**9)
# Its batch ramp: 3072 to 15360 sequences of 4096 tokens over the first 469B tokens. The
# paper gives only the ends; this ramps as Megatron's --rampup-batch-size 3072 768 S does
# (16 equal increments, S = 469B / 4096 sequences, rounded down).
V3_RAMPUP = (3072, 768, 469 * 10**9 // 4096)


@schedule_factory
def deepseek_v3(
    *,
    peak_lr: float = 2.2e-4,
    warmup_steps: int = 2000,
    decayed_lr: float = 2.2e-5,
    final_lr: float = 7.3e-6,
    seq_length: int = 4096,
    global_batch_size: int = 15360,
    rampup_batch_size: tuple[int, int, int] | None = V3_RAMPUP,
    tokens: tuple[int, int, int, int] = V3_TOKENS,
) -> Schedule:
    """DeepSeek-V3's pre-training lr, driven by consumed tokens, as a schedule of the step.

    With ``T(k)`` the tokens consumed before step ``k`` (``seq_length`` per sequence, the
    batch ramping from ``rampup_batch_size[0]`` to ``global_batch_size``) and phase ends
    ``B1 = 10T``, ``B2 = B1 + 4.3T``, ``B3 = B2 + 333B`` tokens: ``lr = peak k / W`` for
    ``k < W``; ``peak`` while ``T < B1``; ``decayed + (peak - decayed) (1 + cos(pi (T - B1)
    / (B2 - B1))) / 2`` while ``T < B2``; ``decayed`` while ``T < B3``; ``final`` after
    (the run ends at ``B3 + 167B = 14.8T`` tokens, ``params["total_steps"]`` steps).

    From DeepSeek-AI 2024, "DeepSeek-V3 Technical Report" (arXiv:2412.19437), section 4.2:
    "we first linearly increase it from 0 to 2.2e-4 during the first 2K steps. Then, we keep
    a constant learning rate of 2.2e-4 until the model consumes 10T training tokens.
    Subsequently, we gradually decay the learning rate to 2.2e-5 in 4.3T tokens, following a
    cosine decay curve. During the training of the final 500B tokens, we keep a constant
    learning rate of 2.2e-5 in the first 333B tokens, and switch to another constant
    learning rate of 7.3e-6 in the remaining 167B tokens." and "the batch size is gradually
    increased from 3072 to 15360 in the training of the first 469B tokens". The ramp's
    steps are not published: by default Megatron's ramp in 16 increments of 768 over
    ``469e9 // 4096`` sequences (``V3_RAMPUP``). ``jaxsched.presets.deepseek_v3_steps`` is
    the older approximation that takes steps as proportional to tokens.

    Args:
        peak_lr, decayed_lr, final_lr: the three levels, ``final <= decayed <= peak``.
        warmup_steps: ``W`` (steps, not tokens), whose tokens must end before ``B1``.
        seq_length: tokens per sequence.
        global_batch_size: sequences per step after the ramp.
        rampup_batch_size: Megatron's ``(start, increment, sequences)``, or None.
        tokens: the four phases' tokens.

    Returns:
        A ``Schedule`` of the step; ``params["tokens"](k)`` gives ``T(k)`` (an int64 under
        x64, else a float of it), ``params["total_steps"]`` the steps of the run.

    Raises:
        TypeError, ValueError: on bad arguments.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.presets.deepseek_v3()
        >>> s.params["total_steps"], s.params["boundary_steps"]
        (243761, (167468, 235814, 241107))
        >>> [f"{float(s(k)):.3g}" for k in (1000, 2000, 167467, 235814, 241107)]
        ['0.00011', '0.00022', '0.00022', '2.2e-05', '7.3e-06']
    """
    fn = "jaxsched.presets.deepseek_v3"
    peak = check.nonneg(fn, "peak_lr", peak_lr)
    decayed = check.nonneg(fn, "decayed_lr", decayed_lr)
    final = check.nonneg(fn, "final_lr", final_lr)
    check.ordered(fn, "decayed_lr", decayed, "peak_lr", peak)
    check.ordered(fn, "final_lr", final, "decayed_lr", decayed)
    w = check.integer(fn, "warmup_steps", warmup_steps, minimum=0)
    seq = check.integer(fn, "seq_length", seq_length, minimum=1, maximum=2**20)
    if not isinstance(tokens, (tuple, list)) or len(tokens) != 4:
        raise ValueError(f"{fn}: tokens must have four phases, got {tokens!r}")
    phases = [check.integer(fn, "tokens", t, minimum=1, maximum=check.MAX_EXACT)
              for t in tokens]
    b1, b2, b3, end = (sum(phases[: i + 1]) for i in range(4))
    if end > check.MAX_EXACT:
        raise ValueError(f"{fn}: the run's {end} tokens are past 2**53-1")
    ramp = None if rampup_batch_size is None else list(rampup_batch_size)
    iters, consumed, batches = rampup_table(global_batch_size, ramp)
    g = math.gcd(*batches, *consumed)
    unit = g * seq  # tokens per unit of u

    def steps_to(t: int) -> int:
        """The first step before which at least ``t`` tokens were consumed."""
        c = -(-t // seq)  # sequences
        j = max(i for i, x in enumerate(consumed) if x <= c)
        return iters[j] + -(-(c - consumed[j]) // batches[j])

    bounds = (steps_to(b1), steps_to(b2), steps_to(b3))
    total = steps_to(end)
    if w > bounds[0]:
        raise ValueError(f"{fn}: warmup_steps={w} reaches the end of the constant phase "
                         f"(step {bounds[0]})")
    top = 2**31 - 1
    last = iters[-1] + (top - consumed[-1] // g) // (batches[-1] // g)  # u fits in int32
    if steps_to(end) > last:
        raise ValueError(f"{fn}: the run's {end} tokens need more than 2**31-1 units of "
                         f"{g} sequences")
    u_step = [b // g for b in batches]
    # thresholds in u: T < B  <=>  u < ceil(B / unit)
    t1, t2, t3 = (-(-b // unit) for b in (b1, b2, b3))
    q2, f2 = divmod(Fraction(b2, unit), 1)
    span = Fraction(b2 - b1, unit)
    f2, span_f = float(f2), float(span)

    # u is continuous and piecewise linear in k, its slope growing at each segment start
    u_start = tuple(c // g for c in consumed)

    def units(k: jax.Array) -> jax.Array:
        k = jnp.minimum(k, last).astype(jnp.int32)
        return piecewise_linear(k, iters, u_start, tuple(u_step))

    def lr(k: jax.Array) -> jax.Array:
        u = units(k)
        rest = jnp.clip(to_float(int(q2) - u) + f2, 0.0, span_f)  # tokens left / unit
        s = jnp.sin((math.pi / 2) * (rest / span_f))
        cosine = decayed + (peak - decayed) * (s * s)
        warm = peak * to_float(k) / max(1, w)
        return jnp.where(k < w, warm, jnp.where(u < t1, peak, jnp.where(
            u < t2, cosine, jnp.where(u < t3, to_float(decayed), final))))

    def consumed_tokens(k: Any) -> jax.Array:
        u = units(jnp.asarray(k))
        return (u.astype(jnp.result_type(int)) * unit if int64_counts()
                else to_float(u) * float(unit))

    return Schedule(lr, name=fn, params=dict(
        peak_lr=peak, warmup_steps=w, decayed_lr=decayed, final_lr=final, seq_length=seq,
        global_batch_size=global_batch_size, rampup_batch_size=rampup_batch_size,
        token_bounds=(b1, b2, b3, end), boundary_steps=bounds, total_steps=total,
        table=(iters, consumed, batches), tokens=consumed_tokens))
