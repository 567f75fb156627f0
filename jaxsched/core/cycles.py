"""Geometric restarts, exactly: the cycle index, position and length of count ``t`` for
cycles of length ``T, T m, T m**2, ...`` (timm's ``t_initial`` / ``cycle_mul`` /
``cycle_limit``; Keras's ``first_decay_steps`` / ``t_mul``).

Positions are integers or exact quotients of integers, as in the rest of jaxsched. timm
finds the cycle of step ``t`` with ``floor(log(1 - t / T * (1 - m), m))`` in float64, which
lands in the previous cycle at some exact boundaries (``m = 3``: step ``4 T`` is the last step
of cycle 1 in timm and the first of cycle 2 in exact arithmetic). Here the cycle starts
``B_j = T (m**j - 1) / (m - 1)`` are computed exactly on the host (rationals, or 60 digits
past ``j = 64``, where no ``B_j`` can be an integer), stored as ``ceil(B_j)`` (an int32) and
``ceil(B_j) - B_j`` (a float in [0, 1)), so ``t >= B_j`` is an integer comparison and the
position in the cycle ``t - B_j`` and the steps left ``B_{j+1} - t`` are an integer plus a
small float, without cancellation.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import mpmath

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, float_dtype, idiv, imod, int_pow, to_float

__all__ = ["MAX_CYCLES", "Cycles"]

MAX_CYCLES = 1 << 16  # cycle starts tabulated for cycle_mul != 1


class Cycles:
    """Cycle index, position and length of ``t`` for timm's ``t_initial`` / ``cycle_mul`` /
    ``cycle_limit``: ``index(t)`` (saturating at ``cycle_limit``), ``position(t) =
    (t_curr / t_i, (t_i - t_curr) / t_i)`` both as accurate quotients."""

    def __init__(self, fn: str, t_initial: Any, cycle_mul: Any, cycle_limit: Any,
                 span: int) -> None:
        self.t_initial = check.phase(fn, "t_initial", t_initial)
        self.cycle_mul = check.real(fn, "cycle_mul", cycle_mul)
        self.cycle_limit = check.integer(fn, "cycle_limit", cycle_limit, minimum=0)
        if self.cycle_mul < 1.0:
            raise ValueError(
                f"{fn}: cycle_mul must be >= 1, got {self.cycle_mul!r} (timm accepts it, then "
                f"fails with a math domain error once t reaches t_initial / (1 - cycle_mul))")
        self.table: tuple[Any, ...] | None = None
        self.exact_to = check.MAX_PY_COUNT  # the last count the table places exactly
        if self.cycle_mul != 1.0:
            self.table = self._starts(fn, span)

    def _starts(self, fn: str, span: int) -> tuple[Any, ...]:
        """``(ceil(B_j), ceil(B_j) - B_j, T * m**j)`` for ``j = 0 .. n`` where ``B_n`` is the
        first start past ``span`` or ``cycle_limit`` is reached."""
        t, m = self.t_initial, Fraction(self.cycle_mul)
        ceil_b, frac_b, length = [0], [0.0], [float(t)]
        b: Fraction | mpmath.mpf = Fraction(0)
        with mpmath.workdps(60):
            mm = mpmath.mpf(self.cycle_mul)
            for j in range(1, self.cycle_limit + 1):
                if j == 65:  # past here B_j is no integer; 60 digits place it exactly enough
                    b = mpmath.mpf(b.numerator) / b.denominator
                b = b * (m if isinstance(b, Fraction) else mm) + t
                c = math.ceil(b) if isinstance(b, Fraction) else int(mpmath.ceil(b))
                ceil_b.append(c)
                frac_b.append(float(c - b))
                length.append(float(t * mm ** j))
                if c > span:
                    break
                if j >= MAX_CYCLES and c > check.MAX_COUNT:  # exact past int32, to c - 1
                    self.exact_to = c - 1
                    break
                if j >= MAX_CYCLES:
                    raise ValueError(
                        f"{fn}: cycle_mul={self.cycle_mul!r} with t_initial={t} makes more "
                        f"than {MAX_CYCLES} cycles before step {span}; set cycle_limit or a "
                        f"larger cycle_mul")
        return tuple(ceil_b), tuple(frac_b), tuple(length)

    def index(self, t: jax.Array) -> jax.Array:
        """The cycle of ``t >= 0``, at most ``cycle_limit``."""
        if self.table is None and self.cycle_limit <= 1:  # one cycle: no division
            return (t >= self.t_initial).astype(t.dtype) * self.cycle_limit
        if self.table is None:
            return jnp.minimum(idiv(t, self.t_initial), self.cycle_limit)
        reachable = [c for c in self.table[0][1:] if c <= jnp.iinfo(t.dtype).max]
        starts = jnp.asarray(reachable, t.dtype)
        return jnp.searchsorted(starts, t, side="right").astype(t.dtype)

    def position(self, t: jax.Array, i: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(t - B_i) / t_i`` and ``(B_{i+1} - t) / t_i`` in cycle ``i`` (< cycle_limit)."""
        if self.table is None:  # in a single cycle t itself (past it, the value is unused)
            done = (jnp.minimum(t, self.t_initial) if self.cycle_limit <= 1
                    else imod(t, self.t_initial))
            # the remaining steps in integers in both modes: 1 - x in float32 is off by
            # 2**-24 absolute near the end, which a power below 1 magnifies (timm poly,
            # power 0.5: 2.7e-6 of the peak one step before the end of 14691 steps)
            return (divide(done, self.t_initial),
                    divide(self.t_initial - done, self.t_initial))
        ceil_b, frac_b, length = self.table
        i0 = jnp.minimum(i, len(ceil_b) - 2)
        frac = jnp.asarray(frac_b, float_dtype())
        lim = int(jnp.iinfo(t.dtype).max)
        start = jnp.asarray([min(c, lim) for c in ceil_b], t.dtype)[i0]
        done = to_float(t - start) + frac[i0]  # t >= start: no overflow
        # the steps left to the next start, in integers up to the count type's limit (the
        # next start may lie past it: the excess is added as a float, exact below 2**53)
        stop = [min(c, lim) for c in ceil_b]
        over = jnp.asarray([float(c - m) for c, m in zip(ceil_b, stop, strict=True)], float_dtype())
        left = to_float(jnp.asarray(stop, t.dtype)[i0 + 1] - t) + over[i0 + 1]
        left = left - frac[i0 + 1]
        t_i = jnp.asarray(length, float_dtype())[i0]
        return done / t_i, left / t_i

    def decay(self, cycle_decay: float, i: jax.Array) -> jax.Array | float:
        """``cycle_decay ** i`` (1 without a decay, or while only cycle 0 is reachable)."""
        if cycle_decay == 1.0 or self.cycle_limit <= 1:
            return 1.0
        return int_pow(cycle_decay, i)
