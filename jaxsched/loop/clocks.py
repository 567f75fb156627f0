"""Clocks: drive a schedule by what a run consumed instead of the optimizer step.

- ``samples_clock``: consumed samples (or tokens: ``seq_length`` per sample, in units of
  ``unit``), with Megatron's batch-size ramp-up (``--rampup-batch-size start incr samples``):
  the batch of an iteration is ``start + int(c / (samples / n)) * incr`` for the samples ``c``
  consumed before it while ``c <= samples``, then the global batch size (megatron-core
  0.16.1's ``RampupBatchsizeNumMicroBatchesCalculator``, its float quotient reproduced by
  tabulating, on the host, the first ``c`` of every increment). The lr of iteration ``i`` is
  ``s(consumed(i))``, the value Megatron's scheduler holds then (it is stepped by each
  iteration's batch after the iteration).
- ``epoch_clock``: fractional epochs, ``s(floor(k * units / steps_per_epoch))`` for a schedule
  counted in ``1/units`` of an epoch (``units=1`` is ``jaxsched.per_epoch``).
- Gradient accumulation needs no clock: inside ``optax.MultiSteps`` the inner optimizer's
  count, hence its schedule, advances once per real update, not per micro-batch.

All clock arithmetic is on integers of the count's dtype (int64 under ``jax_enable_x64``,
else int32), exact wherever it is defined. Nothing wraps or saturates: each clock computes, on
the host, the last iteration whose count (and every intermediate product) its dtype holds
(``s.params["limit"]``, per mode). A concrete count past it raises ``ValueError`` naming the
limit and the way out (enable x64, or a coarser ``unit`` / ``units``); a configuration whose
intermediate products do not fit raises when it is called in that mode; inside ``jit`` (where
nothing can raise) a count past the limit gives NaN, a loud failure, never a wrapped or held
count. Without x64 a token clock holds at most 2**31-1 tokens (per ``unit``), e.g. 524287
sequences of 4096 tokens at ``unit=1``: count tokens in thousands or millions, or enable
x64 (to 2**63-1; float64 schedules are exact on counts to 2**53).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import idiv, int64_counts, piecewise_linear
from jaxsched.core.schedule import Schedule, schedule_factory
from jaxsched.core.wide import WideCount, evaluate

INT_MAX = {False: 2**31 - 1, True: 2**63 - 1}  # the count's dtype, without / with x64


def _guarded(fn: str, schedule: Schedule, count: Any, limits: dict[bool, int],
             why: dict[bool, str], name: str, params: dict[str, Any],
             wide: bool = False) -> Schedule:
    """``schedule(count(k))`` for ``k <= limits[x64]``: a concrete ``k`` past it raises, a
    traced one gives NaN (jit cannot raise); a mode whose limit is -1 cannot run at all.
    ``wide``: without x64 the clock runs on int64 counts (a scoped x64, the schedule's
    float32 formula: ``jaxsched.core.wide``), so its limit is the int64 one in both modes."""

    def clocked(inner: Schedule) -> Any:
        def value(k: jax.Array) -> jax.Array:
            x64 = int64_counts()  # under x64, or a wide count's scoped x64
            limit = limits[x64]
            if limit < 0:
                raise ValueError(f"{fn}: {why[x64]}")
            if limit >= INT_MAX[x64]:
                return inner(count(k))
            if not isinstance(k, jax.core.Tracer) and int(jnp.max(k)) > limit:
                raise ValueError(f"{fn}: count {int(jnp.max(k))} is past {limit}, the last "
                                 f"one whose clocked count fits in "
                                 f"{'int64' if x64 else 'int32'}: {why[x64]}")
            v = inner(count(jnp.minimum(k, limit)))
            return jnp.where(k <= limit, v, jnp.nan)

        if not wide:
            return value

        def wide_value(k: jax.Array) -> jax.Array:
            return value(k) if int64_counts() else evaluate(value, WideCount.of(k))

        return wide_value

    if wide:
        limits, why = {False: limits[True], True: limits[True]}, {False: why[True],
                                                                 True: why[True]}
    params = dict(params, limit=dict(limits))
    mom = schedule.momentum
    momentum = None if mom is None else Schedule(clocked(mom), name=name + ".momentum",
                                                 params=params)
    return Schedule(clocked(schedule), momentum=momentum, name=name, params=params)


WAY_OUT = ("enable x64 (jax.config.update('jax_enable_x64', True): counts to 2**63-1, exact "
           "float64 schedules to 2**53), or wide_count=True (the same without x64, on CPU / "
           "GPU)")

__all__ = ["epoch_clock", "rampup_table", "samples_clock"]


def rampup_table(global_batch_size: int, rampup_batch_size: Any = None
                 ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``(first iteration, samples consumed before it, batch)`` of every constant-batch
    segment of a run, the last one open-ended (Megatron's ramp-up, exactly)."""
    fn = "jaxsched.rampup_table"
    gbs = check.integer(fn, "global_batch_size", global_batch_size, minimum=1)
    if rampup_batch_size is None:
        return (0,), (0,), (gbs,)
    if not isinstance(rampup_batch_size, (list, tuple)) or len(rampup_batch_size) != 3:
        raise ValueError(f"{fn}: rampup_batch_size must be [start, increment, samples] "
                         f"(Megatron's --rampup-batch-size), got {rampup_batch_size!r}")
    start = check.integer(fn, "rampup_batch_size[0] (start)", rampup_batch_size[0], minimum=1)
    inc = check.integer(fn, "rampup_batch_size[1] (increment)", rampup_batch_size[1],
                        minimum=1)
    ramp = check.integer(fn, "rampup_batch_size[2] (samples)", rampup_batch_size[2],
                         minimum=0)
    if ramp == 0:
        raise ValueError(f"{fn}: rampup_batch_size[2] (samples) must be > 0: Megatron "
                         f"computes 0 / (0 / increments) when built and raises "
                         f"ZeroDivisionError")
    diff = gbs - start
    if diff <= 0 or diff % inc:
        raise ValueError(f"{fn}: global_batch_size - start = {diff} must be a positive "
                         f"multiple of the increment {inc} (Megatron asserts divisibility; "
                         f"with no difference it divides by zero)")
    per = ramp / (diff // inc)  # Megatron's float samples per increment

    def batch(c: int) -> int:
        return gbs if c > ramp else start + int(c / per) * inc

    iters, consumed, batches = [0], [0], [batch(0)]
    c, i = 0, 0
    while batches[-1] != gbs:  # walk segment by segment: each ends where batch(c) changes
        b = batches[-1]
        # the smallest n >= 1 with batch(c + n b) != b: near the float quotient's crossing
        j = int(c / per) + 1
        n = max(1, math.ceil((min(j * per, ramp + 1) - c) / b) - 2)
        while batch(c + (n - 1) * b) != b:
            n -= 1
        while batch(c + n * b) == b:
            n += 1
        c, i = c + n * b, i + n
        iters.append(i)
        consumed.append(c)
        batches.append(batch(c))
    return tuple(iters), tuple(consumed), tuple(batches)


@schedule_factory
def samples_clock(schedule: Schedule, global_batch_size: int, rampup_batch_size: Any = None,
                  *, seq_length: int = 1, unit: int = 1, wide_count: bool = False
                  ) -> Schedule:
    """``schedule`` driven by consumed samples (tokens with ``seq_length``), per iteration.

    Formula: ``s((consumed(i) * seq_length) // unit)``, ``consumed(i) = C_j + (i - I_j) b_j``
    in the ramp-up segment ``j`` holding iteration ``i`` (``rampup_table``).

    Args:
        schedule: a schedule of consumed samples (or tokens / ``unit``).
        global_batch_size: the batch after ramp-up.
        rampup_batch_size: Megatron's ``[start, increment, samples]``, or None.
        seq_length: units per sample (tokens per sequence), >= 1.
        unit: the schedule's count unit, >= 1 (e.g. 1000 for thousands of tokens).
        wide_count: without x64, clock in int64 anyway (the clocked count exact to
            2**63-1, e.g. 15T tokens at ``unit=1``): the clock and the schedule run on
            int64 counts inside the trace with float32 formulas (``jaxsched.core.wide``;
            CPU / GPU). ``s.params["limit"]`` is
            then the int64 limit in both modes. The iteration may be an int32 or, past
            2**31-1, a ``jaxsched.WideCount``.

    Returns:
        A ``Schedule`` of the iteration (momentum clocked alike).

    Raises:
        ValueError / TypeError: for a ramp-up Megatron refuses or bad sizes.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.samples_clock(jaxsched.linear_lr(0.5, 1.0, 100, lr=1.0), 32,
        ...                            [8, 8, 48])
        >>> [int(s.params["consumed"](i)) for i in range(6)]
        [0, 8, 16, 32, 56, 88]

    Matches megatron-core 0.16.1's ``RampupBatchsizeNumMicroBatchesCalculator``.
    """
    fn = "jaxsched.samples_clock"
    if not isinstance(schedule, Schedule):
        raise TypeError(f"{fn}: schedule must be a jaxsched.Schedule, got {schedule!r}")
    iters, consumed, batches = rampup_table(global_batch_size, rampup_batch_size)
    seq = check.integer(fn, "seq_length", seq_length, minimum=1)
    per_unit = check.integer(fn, "unit", unit, minimum=1)
    wide = check.boolean(fn, "wide_count", wide_count)

    g = math.gcd(seq, per_unit)
    a, b = seq // g, per_unit // g  # count = c a // b = q a + (r a) // b, c = q b + r
    limits, why = {}, {}
    for x64, top in INT_MAX.items():
        width = "int64" if x64 else "int32"
        if (b - 1) * a > top:
            limits[x64] = -1
            why[x64] = (f"seq_length / unit = {seq} / {per_unit} needs products up to "
                        f"{(b - 1) * a}, past {width}; "
                        + (f"{WAY_OUT}, or " if not x64 else "") + "reduce the fraction")
            continue
        cmax = min(top, ((top + 1) * b - 1) // a)  # the most samples whose count fits
        seg = max(j for j, c in enumerate(consumed) if c <= cmax)
        limits[x64] = min(top, iters[seg] + (cmax - consumed[seg]) // batches[seg])
        why[x64] = (f"consumed samples {cmax} x seq_length {seq} / unit {per_unit} is the "
                    f"most it holds; " + (f"{WAY_OUT}, or " if not x64 else "")
                    + "count in a larger unit")

    def samples(i: jax.Array) -> jax.Array:
        """Samples consumed before iteration ``i``, in ``i``'s dtype; past the last
        iteration whose consumed count that dtype holds: a concrete ``i`` raises, a traced
        one gives -1."""
        i = jnp.asarray(i)
        dt = i.dtype
        top = jnp.iinfo(dt).max
        last = iters[-1] + (top - consumed[-1]) // batches[-1] if consumed[-1] <= top else -1
        if not isinstance(i, jax.core.Tracer) and i.size and int(jnp.max(i)) > last:
            raise ValueError(f"{fn}: the samples consumed before iteration "
                             f"{int(jnp.max(i))} are past {dt.name}'s {top}: {WAY_OUT}")
        # consumed(i) is continuous and piecewise linear, its slope (the batch) growing at
        # each segment start (core.exact.piecewise_linear)
        n = sum(c <= top for c in consumed)  # the segments whose start the dtype holds
        c = piecewise_linear(jnp.minimum(i, last), iters[:n], consumed[:n], batches[:n])
        return jnp.where(i <= last, c, -1)

    def count(i: jax.Array) -> jax.Array:
        c = samples(i)
        if a == 1 and b == 1:
            return c
        q = idiv(c, b)
        return q * a + idiv((c - q * b) * a, b)

    params = dict(schedule=schedule.name, global_batch_size=global_batch_size,
                  rampup_batch_size=rampup_batch_size, seq_length=seq, unit=per_unit,
                  consumed=samples, wide_count=wide)
    return _guarded(fn, schedule, count, limits, why, fn, params, wide)


@schedule_factory
def epoch_clock(schedule: Schedule, steps_per_epoch: int, units: int, *,
                wide_count: bool = False) -> Schedule:
    """``schedule`` counted in ``1/units`` of an epoch, as a function of the optimizer step:
    ``s(floor(k * units / steps_per_epoch))``, exact in integers (no float epoch).

    ``wide_count=True``: without x64, clock in int64 anyway (as ``samples_clock``'s).

    Example:
        >>> import jaxsched
        >>> s = jaxsched.epoch_clock(jaxsched.step_lr(5, 0.5, lr=1.0), steps_per_epoch=30,
        ...                          units=10)  # halve every half epoch
        >>> [float(s(k)) for k in (0, 14, 15, 29, 30)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    fn = "jaxsched.epoch_clock"
    if not isinstance(schedule, Schedule):
        raise TypeError(f"{fn}: schedule must be a jaxsched.Schedule, got {schedule!r}")
    n = check.integer(fn, "steps_per_epoch", steps_per_epoch, minimum=1)
    u = check.integer(fn, "units", units, minimum=1)
    wide = check.boolean(fn, "wide_count", wide_count)
    g = math.gcd(n, u)
    n, u = n // g, u // g

    limits, why = {}, {}
    for x64, top in INT_MAX.items():
        width = "int64" if x64 else "int32"
        if (n - 1) * u > top:
            limits[x64] = -1
            why[x64] = (f"units / steps_per_epoch = {u} / {n} (reduced) needs products up "
                        f"to {(n - 1) * u}, past {width}; "
                        + (f"{WAY_OUT}, or " if not x64 else "") + "use fewer units")
            continue
        limits[x64] = min(top, ((top + 1) * n - 1) // u)  # the last k with k u // n <= top
        why[x64] = (f"step {limits[x64]} x units {units} / steps_per_epoch "
                    f"{steps_per_epoch} is the most it holds; "
                    + (f"{WAY_OUT}, or " if not x64 else "") + "use fewer units")

    def count(k: jax.Array) -> jax.Array:
        k = jnp.asarray(k)
        q = idiv(k, n)  # k = q n + r: k u / n = q u + r u / n
        return q * u + idiv((k - q * n) * u, n)

    params = dict(schedule=schedule.name, steps_per_epoch=steps_per_epoch, units=units,
                  wide_count=wide)
    return _guarded(fn, schedule, count, limits, why, fn, params, wide)
