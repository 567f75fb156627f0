"""DeepSpeed's warmup family (``deepspeed.runtime.lr_schedules``, 0.19.8) as pure functions:
WarmupLR, WarmupDecayLR, WarmupCosineLR, with the step convention of
``jaxsched.deepspeed.schedules`` (the value at training step ``k`` is DeepSpeed's formula at
``last_batch_iteration = k - 1``)."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, to_float, two_prod_err
from jaxsched.core.schedule import Schedule, schedule_factory

__all__ = ["WARMUP_TYPES", "warmup_cosine_lr", "warmup_decay_lr", "warmup_lr"]

WARMUP_TYPES = ("log", "linear")


def _warmup_checks(fn: str, warmup_num_steps: int, warmup_type: str) -> tuple[int, str]:
    """The effective warmup ``max(2, warmup_num_steps)`` and warmup type: an unknown type
    name is DeepSpeed's log warmup, with one warning (DeepSpeed logs one)."""
    check.phase(fn, "warmup_num_steps", warmup_num_steps)
    if not isinstance(warmup_type, str):
        raise TypeError(f"{fn}: warmup_type must be one of {WARMUP_TYPES}, got "
                        f"{warmup_type!r}")
    if warmup_type not in WARMUP_TYPES:
        warnings.warn(f"{fn}: unknown warmup_type {warmup_type!r}"
                      f"{check.did_you_mean(warmup_type, WARMUP_TYPES)}; the warmup is 'log', "
                      f"as in DeepSpeed", UserWarning, stacklevel=3)
        warmup_type = "log"
    return max(2, int(warmup_num_steps)), warmup_type


def _total_checks(fn: str, total_num_steps: int, n: int) -> int:
    """``total_num_steps``; one shorter than the (effective) warmup ``n`` warns, as DeepSpeed
    does (the decay is then skipped: the lr drops to its floor right after the warmup)."""
    total = check.phase(fn, "total_num_steps", total_num_steps)
    if total < n:
        warnings.warn(f"{fn}: total_num_steps ({total}) is less than max(2, "
                      f"warmup_num_steps) ({n}); the lr drops to its floor right after the "
                      f"warmup, as in DeepSpeed", UserWarning, stacklevel=3)
    return total


def _reachable(fn: str, n: int, total: int, k: jax.Array) -> None:
    """The trace-time check of the later phase end (``check.reachable``)."""
    if total >= n:
        check.reachable(fn, "total_num_steps", total, k)
    else:
        check.reachable(fn, "warmup_num_steps", n, k)


def _warmup_fraction(k: jax.Array, n: int, warmup_type: str) -> jax.Array:
    """DeepSpeed's warmup gamma at ``last_batch_iteration = k - 1`` (for ``1 <= k <= n``)."""
    if warmup_type == "log":
        return (1.0 / math.log(n)) * jnp.log(to_float(jnp.maximum(k, 1)))
    return divide(jnp.maximum(k, 1) - 1, n)


def signed_lr(fn: str, name: str, value: float) -> float:
    """An lr DeepSpeed takes as it is: any finite real; a negative one (the update then
    climbs the loss) warns once."""
    value = check.real(fn, name, value)
    if value < 0:
        warnings.warn(f"{fn}: {name} is negative ({value!r}); DeepSpeed takes it as it is",
                      UserWarning, stacklevel=3)
    return value


def _max_lr(fn: str, warmup_max_lr: float | None, lr: float | None) -> float:
    if warmup_max_lr is None:
        if lr is None:
            raise TypeError(
                f"{fn}: warmup_max_lr=None inherits the optimizer's lr, so lr= is required, "
                f"got warmup_max_lr={warmup_max_lr!r}, lr={lr!r}")
        return check.nonneg(fn, "lr", lr)
    return signed_lr(fn, "warmup_max_lr", warmup_max_lr)


@schedule_factory
def warmup_lr(
    warmup_min_lr: float = 0.0,
    warmup_max_lr: float | None = None,
    warmup_num_steps: int = 1000,
    warmup_type: str = "log",
    *,
    lr: float | None = None,
) -> Schedule:
    """DeepSpeed's WarmupLR: log or linear warmup from ``min_lr`` to ``max_lr``, then hold.

    With ``n = max(2, warmup_num_steps)`` and ``i = k - 1`` (DeepSpeed's
    ``last_batch_iteration``): ``lr(0) = min_lr``; for ``0 <= i < n``,
    ``lr = min_lr + (max_lr - min_lr) * g`` with ``g = log(i + 1) / log(n)`` (log) or
    ``g = i / n`` (linear); after that ``lr = max_lr``.

    DeepSpeed quirks reproduced: ``min_lr`` serves two updates (steps 0 and 1, since
    ``log(1) = 0`` and ``0 / n = 0``); ``warmup_num_steps`` of 1 acts as 2; with linear
    warmup ``max_lr`` is first reached at step ``n + 1``. An unknown ``warmup_type``, which
    DeepSpeed only warns about before falling back to log, raises here.

    Args:
        warmup_min_lr: lr at steps 0 and 1 (any finite real, as in DeepSpeed; a negative
            one warns).
        warmup_max_lr: lr after warmup (below ``warmup_min_lr``, the warmup descends, as in
            DeepSpeed); ``None`` takes ``lr``.
        warmup_num_steps: warmup length, a positive integer.
        warmup_type: ``"log"`` or ``"linear"``.
        lr: the optimizer's lr, used only when ``warmup_max_lr`` is ``None``.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on bad arguments, or ``warmup_max_lr=None`` without ``lr``.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.warmup_lr(0.0, 1.0, warmup_num_steps=4, warmup_type="linear")
        >>> [round(float(s(k)), 6) for k in range(7)]
        [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]

    Matches ``deepspeed.runtime.lr_schedules.WarmupLR`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.warmup_lr"
    n, warmup_type = _warmup_checks(fn, warmup_num_steps, warmup_type)
    min_lr = signed_lr(fn, "warmup_min_lr", warmup_min_lr)
    max_lr = _max_lr(fn, warmup_max_lr, lr)
    delta = max_lr - min_lr

    def lr_fn(k: jax.Array) -> jax.Array:
        check.reachable(fn, "warmup_num_steps", n, k)
        gamma = jnp.where(k <= n, _warmup_fraction(k, n, warmup_type), 1.0)
        return jnp.where(k == 0, min_lr, min_lr + delta * gamma)

    return Schedule(lr_fn, name=fn, params=dict(
        warmup_min_lr=min_lr, warmup_max_lr=max_lr, warmup_num_steps=int(warmup_num_steps),
        warmup_type=warmup_type))


@schedule_factory
def warmup_decay_lr(
    total_num_steps: int,
    warmup_min_lr: float = 0.0,
    warmup_max_lr: float | None = 0.001,
    warmup_num_steps: int = 1000,
    warmup_type: str = "log",
    *,
    lr: float | None = None,
) -> Schedule:
    """DeepSpeed's WarmupDecayLR: WarmupLR's warmup, then linear decay *to* ``min_lr``.

    Warmup as in ``warmup_lr`` (``n = max(2, warmup_num_steps)``, ``i = k - 1``); for
    ``i >= n``: ``lr = min_lr + (max_lr - min_lr) * max(0, (total - i) / max(1, total - n))``.

    DeepSpeed quirks reproduced: the decay ends at ``warmup_min_lr``, not 0 (reached at step
    ``total + 1`` and held forever after); ``min_lr`` serves steps 0 and 1.
    ``total_num_steps < max(2, warmup_num_steps)`` warns, as in DeepSpeed, and skips the
    decay.

    Args:
        total_num_steps: the step at which the decay ends, a positive integer.
        warmup_min_lr: lr at steps 0 and 1 and after the decay, >= 0.
        warmup_max_lr: peak lr; ``None`` takes ``lr``.
        warmup_num_steps: warmup length, a positive integer.
        warmup_type: ``"log"`` or ``"linear"``.
        lr: the optimizer's lr, used only when ``warmup_max_lr`` is ``None``.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on bad arguments.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.warmup_decay_lr(6, 0.0, 1.0, warmup_num_steps=2,
        ...                              warmup_type="linear")
        >>> [round(float(s(k)), 6) for k in range(9)]
        [0.0, 0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]

    Matches ``deepspeed.runtime.lr_schedules.WarmupDecayLR`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.warmup_decay_lr"
    n, warmup_type = _warmup_checks(fn, warmup_num_steps, warmup_type)
    total = _total_checks(fn, total_num_steps, n)
    min_lr = signed_lr(fn, "warmup_min_lr", warmup_min_lr)
    max_lr = _max_lr(fn, warmup_max_lr, lr)
    delta = max_lr - min_lr
    denominator = max(1, total - n)

    def lr_fn(k: jax.Array) -> jax.Array:
        _reachable(fn, n, total, k)
        i = jnp.maximum(k, 1) - 1  # last_batch_iteration, >= 0
        decay = divide(jnp.maximum(total - i, 0), denominator)  # remaining steps, exact
        gamma = jnp.where(k <= n, _warmup_fraction(k, n, warmup_type), decay)
        return jnp.where(k == 0, min_lr, min_lr + delta * gamma)

    return Schedule(lr_fn, name=fn, params=dict(
        total_num_steps=total, warmup_min_lr=min_lr, warmup_max_lr=max_lr,
        warmup_num_steps=int(warmup_num_steps), warmup_type=warmup_type))


@schedule_factory
def warmup_cosine_lr(
    total_num_steps: int,
    warmup_min_ratio: float = 0.0,
    warmup_num_steps: int = 1000,
    cos_min_ratio: float = 0.0001,
    warmup_type: str = "log",
    *,
    lr: float,
) -> Schedule:
    """DeepSpeed's WarmupCosineLR: warmup then cosine decay, in ratios of the optimizer's lr.

    With ``n = max(2, warmup_num_steps)`` and ``i = k - 1``: ``lr(0) = 0``; for
    ``0 <= i < n``, ``ratio = wmin + g * (1 - wmin)`` with ``g`` as in ``warmup_lr``; after,
    ``p = min(1, (i - n + 1) / max(1, total - n))`` and
    ``ratio = max(0, cmin + (1 - cmin) * (1 + cos(pi * p)) / 2)``; ``lr = lr0 * ratio``.

    The cosine is computed as ``sin(pi/2 * r / D)**2`` from the remaining steps ``r`` (of
    ``D = max(1, total - n)``), so it keeps its relative accuracy to the last step before a
    zero floor, where DeepSpeed's ``1 + cos(pi p)`` cancels (1e-9 relative, measured).

    DeepSpeed quirks reproduced: the value at construction is 0 whatever
    ``warmup_min_ratio`` is; ``wmin * lr0`` serves step 1; with linear warmup the ratio never
    equals 1.0 during warmup (it peaks at ``(n-1)/n``, then the cosine starts below 1); past
    ``total_num_steps`` the ratio holds at ``cos_min_ratio`` (clamped since DeepSpeed 0.19.3).
    ``total_num_steps < max(2, warmup_num_steps)`` warns, as in DeepSpeed, and skips the decay.

    Args:
        total_num_steps: the step at which the cosine ends, a positive integer.
        warmup_min_ratio: ratio at step 1 (any finite real, as in DeepSpeed).
        warmup_num_steps: warmup length, a positive integer.
        cos_min_ratio: final ratio (any finite real, as in DeepSpeed).
        warmup_type: ``"log"`` or ``"linear"``.
        lr: the optimizer's lr (DeepSpeed's ``org_lrs``), >= 0. Keyword-only, required.

    Returns:
        A ``Schedule`` (no momentum).

    Raises:
        TypeError, ValueError: on bad arguments.

    Example:
        >>> import jaxsched
        >>> s = jaxsched.warmup_cosine_lr(6, warmup_num_steps=2, cos_min_ratio=0.0,
        ...                               warmup_type="linear", lr=1.0)
        >>> [round(float(s(k)), 6) for k in range(8)]
        [0.0, 0.0, 0.5, 0.853553, 0.5, 0.146447, 0.0, 0.0]

    Matches ``deepspeed.runtime.lr_schedules.WarmupCosineLR`` of DeepSpeed 0.19.8.
    """
    fn = "jaxsched.warmup_cosine_lr"
    n, warmup_type = _warmup_checks(fn, warmup_num_steps, warmup_type)
    total = _total_checks(fn, total_num_steps, n)
    wmin = check.real(fn, "warmup_min_ratio", warmup_min_ratio)
    cmin = check.real(fn, "cos_min_ratio", cos_min_ratio)
    base = check.nonneg(fn, "lr", lr)
    decay_len = max(1, total - n)

    def lr_fn(k: jax.Array) -> jax.Array:
        _reachable(fn, n, total, k)
        if warmup_type == "linear" and wmin < 0:
            # wmin + (j / n) (1 - wmin) = (wmin (n - j) + j) / n, the product's rounding
            # error added back (Dekker): exact where a negative wmin crosses zero
            j = jnp.maximum(k, 1) - 1
            rest = to_float(n - jnp.minimum(j, n))
            prod = wmin * rest
            warm = ((prod + to_float(j)) + two_prod_err(wmin, rest, prod)) / n
        else:
            warm = wmin + _warmup_fraction(k, n, warmup_type) * (1.0 - wmin)
        # (1 + cos(pi p)) / 2 from the remaining steps, exact to the last step
        rest = jnp.clip(decay_len - (k - n), 0, decay_len)
        cosine = jnp.maximum(0.0, cmin + (1.0 - cmin) * half_cos(rest, decay_len))
        ratio = jnp.where(k <= n, warm, cosine)
        return jnp.where(k == 0, 0.0, base * ratio)

    return Schedule(lr_fn, name=fn, params=dict(
        total_num_steps=total, warmup_min_ratio=wmin, warmup_num_steps=int(warmup_num_steps),
        cos_min_ratio=cmin, warmup_type=warmup_type, lr=base))
