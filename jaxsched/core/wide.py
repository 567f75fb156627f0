"""Wide counts: steps, samples or tokens past 2**31-1 without ``jax_enable_x64``.

Without x64 JAX has no 64-bit integer, so a count is carried as two 32-bit limbs,
``WideCount(hi, lo)``: unsigned 32-bit arrays of one shape, value ``hi * 2**32 + lo``. It
is a ``NamedTuple``, hence a pytree: it lives in an optax state, is vmapped, scanned,
sharded and checkpointed like any pair of arrays. Its operations are exact without x64:
``WideCount.of`` (a Python int, range-checked eagerly, or an integer array), ``add`` (an
increment or another wide count, with carry), ``compare`` (with a Python int), ``to_float``
(correctly rounded) and ``int(w)`` on the host.

A ``Schedule`` called with a ``WideCount`` (``s(w)``) runs its own formula at the exact
count: under a scoped ``jax.enable_x64(True)`` inside the trace the limbs become one int64
count and every integer step of the formula (``k mod T``, ``k // T``, ``T - k``, the phase
boundaries) is exact to 2**63-1, while the floats stay the caller's (``computing_in``):
without x64, the float32 formula at the exact count, so the float32 contract (2e-6 of the
peak) holds at any count and, below 2**31, the value is bitwise the int32 count's. No
float64 arithmetic is compiled in, except where a formula itself needs it (Keras's
``CosineDecayRestarts`` with ``t_mul`` within float32 of 1: its float64 closed form, which
``in_x64`` evaluates) or a user's lambda promotes with the int64 count (``LambdaLR``). On
TPU a wide count raises: enable x64 there and pass int64 counts. Counts from 2**63 (past
int64) give NaN; an add that would pass 2**64-1 saturates there (all ones), which is such
a count: loud, never wrapped. The cost is the 64-bit count itself: ``bench/COUNTS-cpu.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsched.core.exact import computing_in, float_dtype

__all__ = ["WideCount", "evaluate", "in_x64"]

U32 = jnp.uint32
MASK = 2**32 - 1
MAX = 2**64 - 1  # the most two limbs hold
LIMIT = 2**63 - 1  # the most a schedule evaluates (int64)


def _split(n: int) -> tuple[int, int]:
    return n >> 32, n & MASK


def _python_int(fn: str, name: str, n: Any) -> int | None:
    """``n`` as a Python int when it is one (a numpy integer scalar too), else None;
    a bool, float or string raises ``TypeError``."""
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be an integer, got the bool {n!r}")
    if isinstance(n, (int, np.integer)):
        return int(n)
    if isinstance(n, (float, str, bytes, np.floating)) or n is None:
        raise TypeError(f"{fn}: {name} must be an integer (a Python int, an integer array "
                        f"or a WideCount), got {n!r}")
    return None


def _from_int(fn: str, n: int) -> tuple[int, int]:
    if not 0 <= n <= MAX:
        raise ValueError(f"jaxsched.WideCount.{fn}: {n} is outside [0, 2**64-1], what two "
                         f"32-bit limbs hold (schedules evaluate counts to 2**63-1)")
    return _split(n)


def _limbs_of_array(x: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """The limbs of a non-negative integer array (negative entries count as 0, as a
    schedule's count does); 64-bit arrays (under x64) are split."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(f"jaxsched.WideCount.of: expected an integer array, got {x.dtype} "
                        f"(floor a float count first)")
    if jnp.issubdtype(x.dtype, jnp.signedinteger):
        x = jnp.maximum(x, 0)
    if jnp.iinfo(x.dtype).bits <= 32:
        return jnp.zeros(x.shape, U32), x.astype(U32)
    u = x.astype(jnp.uint64)
    return (u >> 32).astype(U32), (u & MASK).astype(U32)


class WideCount(NamedTuple):
    """A count to 2**64-1 as two uint32 limbs, exact without ``jax_enable_x64``.

    Value ``hi * 2**32 + lo``. A pytree (a ``NamedTuple`` of two arrays of one shape), so it
    lives in optax states and goes through ``jit``, ``vmap``, ``lax.scan`` and sharding like
    any array pair. Any ``jaxsched.Schedule`` takes it: ``s(w)`` is the schedule's formula
    at the exact count in the caller's float dtype (``jaxsched.core.wide``).
    ``jaxsched.scheduled``, ``grouped``, ``samples_clock`` and ``epoch_clock`` keep one with
    ``wide_count=True``.

    Formula: ``value = hi * 2**32 + lo``; ``add`` carries from ``lo`` into ``hi``. The
    fields: ``hi``, the high 32 bits, and ``lo``, the low 32 bits (``uint32`` arrays of one
    shape).

    Example:
        >>> import jax, jaxsched
        >>> w = jaxsched.WideCount.of(2**32 - 1)
        >>> w = jax.jit(lambda w: w.add(5))(w)
        >>> int(w), int(w.compare(2**32 + 4)), float(w.to_float())
        (4294967300, 0, 4294967296.0)
        >>> s = jaxsched.cosine_annealing_lr(10**12, lr=1.0)  # a period past int32
        >>> float(jax.jit(s)(jaxsched.WideCount.of(10**12)))  # exact: the cosine's end
        0.0

    New in jaxsched (no original: torch, DeepSpeed and Megatron count in Python ints).
    """

    hi: Any
    lo: Any

    @classmethod
    def of(cls, count: Any) -> WideCount:
        """A ``WideCount`` of a Python int in ``[0, 2**64-1]`` (checked eagerly: a negative
        or larger int raises ``ValueError``, a bool / float / string ``TypeError``), of an
        integer array (negative entries count as 0, as for a schedule; traced is fine),
        or a ``WideCount`` unchanged."""
        if isinstance(count, WideCount):
            return count
        n = _python_int("jaxsched.WideCount.of", "count", count)
        if n is not None:
            hi, lo = _from_int("of", n)
            return cls(jnp.asarray(hi, U32), jnp.asarray(lo, U32))
        return cls(*_limbs_of_array(count))

    @classmethod
    def zeros(cls, shape: tuple[int, ...] = ()) -> WideCount:
        """A count of 0 (uint32 limbs of ``shape``)."""
        return cls(jnp.zeros(shape, U32), jnp.zeros(shape, U32))

    def add(self, increment: Any) -> WideCount:
        """``self + increment``, exact, for a non-negative increment: a Python int (checked
        eagerly), an integer array of at most 32 bits (a traced negative entry saturates
        the sum to 2**64-1, which evaluates to NaN), or a ``WideCount``. A sum past
        2**64-1 saturates there: loud (NaN in a schedule), never wrapped."""
        if isinstance(increment, WideCount):
            inc_hi, inc_lo = jnp.asarray(increment.hi, U32), jnp.asarray(increment.lo, U32)
            bad = None
        else:
            n = _python_int("jaxsched.WideCount.add", "increment", increment)
            if n is not None:
                hi, lo = _from_int("add", n)
                inc_hi, inc_lo, bad = jnp.asarray(hi, U32), jnp.asarray(lo, U32), None
            else:
                x = jnp.asarray(increment)
                bad = (x < 0) if jnp.issubdtype(x.dtype, jnp.signedinteger) else None
                inc_hi, inc_lo = _limbs_of_array(x)
        hi, lo = jnp.asarray(self.hi, U32), jnp.asarray(self.lo, U32)
        new_lo = lo + inc_lo  # mod 2**32
        carry = (new_lo < lo).astype(U32)
        partial = hi + inc_hi
        new_hi = partial + carry
        over = (partial < hi) | (new_hi < partial)
        if bad is not None:
            over = over | bad
        top = jnp.asarray(MASK, U32)
        return WideCount(jnp.where(over, top, new_hi), jnp.where(over, top, new_lo))

    def compare(self, n: int) -> jax.Array:
        """``sign(self - n)`` for a Python int ``n`` (any size): an int32 array of -1, 0, 1."""
        n = _python_int("jaxsched.WideCount.compare", "n", n)
        if n is None:
            raise TypeError("jaxsched.WideCount.compare: n must be a Python int")
        hi, lo = jnp.asarray(self.hi, U32), jnp.asarray(self.lo, U32)
        if n < 0:
            return jnp.ones(jnp.shape(hi), jnp.int32)
        if n > MAX:
            return -jnp.ones(jnp.shape(hi), jnp.int32)
        n_hi, n_lo = (jnp.asarray(x, U32) for x in _split(n))
        greater = (hi > n_hi) | ((hi == n_hi) & (lo > n_lo))
        less = (hi < n_hi) | ((hi == n_hi) & (lo < n_lo))
        return greater.astype(jnp.int32) - less.astype(jnp.int32)

    def to_float(self, dtype: Any = None) -> jax.Array:
        """The count as a float, correctly rounded (to nearest, ties to even).

        float32 (the default without x64) is computed from the limbs without 64-bit types:
        the top 32 significant bits, the rest folded into a sticky bit, one exact
        conversion and an exact power-of-two scale. float64 needs x64 (the default then)."""
        dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
        hi, lo = jnp.asarray(self.hi, U32), jnp.asarray(self.lo, U32)
        if dtype == jnp.float64:
            if not jax.config.jax_enable_x64:
                raise ValueError("jaxsched.WideCount.to_float: float64 needs "
                                 "jax_enable_x64 (without it, float32 is the widest float)")
            u = hi.astype(jnp.uint64) << 32 | lo.astype(jnp.uint64)
            return u.astype(jnp.float64)
        if dtype != jnp.float32:
            return self.to_float(jnp.float32).astype(dtype)
        shift = jax.lax.clz(hi)  # hi != 0: its leading bit moves to bit 31
        s = jnp.minimum(shift, 31).astype(U32)
        top = (hi << s) | jnp.where(s == 0, U32(0), lo >> (U32(32) - jnp.maximum(s, 1)))
        rest = lo << s  # the bits below the top 32 (s < 32 so no undefined shift)
        top = top | (rest != 0).astype(U32)  # sticky: decides ties, far below bit 8
        # 2**(32 - s) exactly, from its bits (32 - s in [1, 32])
        scale = jax.lax.bitcast_convert_type((U32(127 + 32) - s) << 23, jnp.float32)
        big = top.astype(jnp.float32) * scale
        return jnp.where(hi == 0, lo.astype(jnp.float32), big)

    def __int__(self) -> int:
        """The count on the host (a scalar ``WideCount``)."""
        hi, lo = np.asarray(self.hi), np.asarray(self.lo)
        if hi.size != 1:
            raise TypeError(f"jaxsched.WideCount: int() needs a scalar count, got shape "
                            f"{hi.shape}; use to_int")
        return int(hi.reshape(())) << 32 | int(lo.reshape(()))

    def to_int(self) -> Any:
        """The count on the host: a Python int (scalar) or a numpy object array of them."""
        hi, lo = np.asarray(self.hi), np.asarray(self.lo)
        if hi.ndim == 0:
            return int(self)
        out = np.empty(hi.shape, object)
        for i in np.ndindex(hi.shape):
            out[i] = int(hi[i]) << 32 | int(lo[i])
        return out


def refuse_tpu(what: str) -> None:
    """Raises on a TPU backend: a scoped x64 inside a float32 program (64-bit counts, and the
    float64 constants and formulas it brings) is not run on TPUs."""
    if jax.default_backend() == "tpu":
        raise ValueError(f"jaxsched: {what} runs under a scoped x64 inside a float32 program, "
                         f"which jaxsched does not run on TPUs (no float64 there): enable x64 "
                         f"(jax.config.update('jax_enable_x64', True)) and pass int64 counts, "
                         f"or count in a larger unit")


def _scoped(value: Callable[[], jax.Array], compute: Any, what: str) -> jax.Array:
    """``value()`` traced under a scoped ``jax.enable_x64`` (int64 counts) with floats in
    ``compute`` (None: the caller's), cast to the caller's float dtype; outside x64 it
    refuses a TPU, naming ``what``."""
    out = float_dtype()
    if out != jnp.float64:
        refuse_tpu(what)
    with jax.enable_x64(True), computing_in(out if compute is None else compute):
        return jnp.asarray(value()).astype(out)


def in_x64(value: Callable[[], jax.Array]) -> jax.Array:
    """``value()`` traced under a scoped ``jax.enable_x64`` computing in float64 (int64
    counts, float64 values), cast to the caller's float dtype: a float64 formula inside a
    float32 program (which needs float64: CPU / GPU; on TPU it raises)."""
    return _scoped(value, jnp.float64, "this schedule's float64 formula")


def evaluate(schedule: Any, count: WideCount) -> jax.Array:
    """``schedule`` at a wide count, exactly: its formula at the int64 count (a scoped x64
    inside the trace) with the caller's floats, in the caller's float dtype. Counts past
    2**63-1 give NaN."""
    hi, lo = jnp.asarray(count.hi, U32), jnp.asarray(count.lo, U32)

    def value() -> jax.Array:
        # past 2**63-1 the int64 is negative: the schedule sees 0 (a count's clamp), then NaN
        k = (hi.astype(jnp.uint64) << 32 | lo.astype(jnp.uint64)).astype(jnp.int64)
        v = jnp.asarray(schedule(k), float_dtype())
        return jnp.where(k < 0, jnp.asarray(jnp.nan, v.dtype), v)

    return _scoped(value, None, "a schedule at a WideCount")
