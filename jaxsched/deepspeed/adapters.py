"""DeepSpeed-style stateful adapters over the pure schedules of ``jaxsched.deepspeed``.

Each class takes DeepSpeed 0.19.8's constructor arguments after ``optimizer`` (an lr, a list
of lrs or param-group dicts, an optax ``inject_hyperparams`` state, or a torch optimizer),
keeps ``last_batch_iteration`` and round-trips DeepSpeed's ``state_dict``
(``{"last_batch_iteration": n}``) both ways. Lists give one value per param group.

Differences from DeepSpeed, all deliberate: ``get_last_lr()`` works before the first
``step()`` (DeepSpeed's OneCycle asserts); constructing with ``last_batch_iteration=n``
puts the lr of that iteration in force (DeepSpeed leaves the optimizer's lr untouched until
the next ``step()``, which a checkpointed optimizer makes the same thing); bad arguments raise
where DeepSpeed warns and goes on.
"""

from __future__ import annotations

from typing import Any

from jaxsched.core import checks as check
from jaxsched.core.adapter import Adapter, warn_momentum_disabled
from jaxsched.core.schedule import group_schedules
from jaxsched.deepspeed import schedules as ds

__all__ = ["LRRangeTest", "OneCycle", "WarmupCosineLR", "WarmupDecayLR", "WarmupLR"]


class _DeepSpeedAdapter(Adapter):
    _counter_name = "last_batch_iteration"
    # DeepSpeed's last_batch_iteration is a Python int; the host evaluates the pure schedule
    # on an int64 (x64), exact there to 2**63-1 (tests/test_scale.py)
    _max_count = check.MAX_PY_COUNT

    def _start(self, fn: str, factory: Any, groups: list[dict[str, Any]],
               last_batch_iteration: int, kwargs: dict[str, Any], *,
               write_momentum: bool = False) -> None:
        lbi = check.integer(fn, "last_batch_iteration", last_batch_iteration, minimum=-1,
                            maximum=self._max_count - 1)
        schedules = group_schedules(fn, factory, len(groups), kwargs)
        self._setup(schedules, lbi + 1, write_momentum=write_momentum)

    @property
    def last_batch_iteration(self) -> int:
        """DeepSpeed's counter: -1 after construction, ``k - 1`` at training step ``k``."""
        return self._count - 1


class LRRangeTest(_DeepSpeedAdapter):
    """DeepSpeed's ``LRRangeTest`` over ``jaxsched.lr_range_test``.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.LRRangeTest([0.1, 0.2], lr_range_test_min_lr=[0.01, 0.02],
        ...                              lr_range_test_step_size=10)
        >>> for _ in range(5):
        ...     sched.step()
        >>> [round(x, 6) for x in sched.get_last_lr()], sched.state_dict()
        ([0.015, 0.03], {'last_batch_iteration': 4})
    """

    def __init__(self, optimizer: Any, lr_range_test_min_lr: Any = 1e-3,
                 lr_range_test_step_size: int = 2000, lr_range_test_step_rate: float = 1.0,
                 lr_range_test_staircase: bool = False, last_batch_iteration: int = -1) -> None:
        fn = "jaxsched.LRRangeTest"
        groups = self._read_groups(fn, optimizer)
        self._start(fn, ds.lr_range_test, groups, last_batch_iteration, dict(
            lr_range_test_min_lr=lr_range_test_min_lr,
            lr_range_test_step_size=lr_range_test_step_size,
            lr_range_test_step_rate=lr_range_test_step_rate,
            lr_range_test_staircase=lr_range_test_staircase))

    def step(self, batch_iteration: int | None = None) -> None:
        """Advances one step, or sets ``last_batch_iteration`` to ``batch_iteration``."""
        self._step_to(batch_iteration)


class OneCycle(_DeepSpeedAdapter):
    """DeepSpeed's ``OneCycle`` over ``jaxsched.one_cycle``.

    As in DeepSpeed, momentum is cycled only when the param groups have ``betas`` (or are plain
    lrs, taken as Adam-like): it is written as ``betas = (mom, 0.99)``, overwriting beta2.
    Groups with ``momentum`` and no ``betas`` (SGD) turn ``cycle_momentum`` off with a
    warning, as DeepSpeed does.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.OneCycle([{"lr": 0.1, "betas": (0.9, 0.999)}], 0.1, 1.0,
        ...                           cycle_first_step_size=2)
        >>> sched.param_groups
        [{'lr': 0.1, 'betas': (0.8, 0.99)}]
        >>> sched.step()
        >>> [round(x, 6) for x in sched.get_last_lr() + sched.get_last_momentum()]
        [0.55, 0.85]
    """

    def __init__(self, optimizer: Any, cycle_min_lr: Any, cycle_max_lr: Any,
                 decay_lr_rate: float = 0.0, cycle_first_step_size: int = 2000,
                 cycle_second_step_size: int | None = None, cycle_first_stair_count: int = 0,
                 cycle_second_stair_count: int | None = None, decay_step_size: int = 0,
                 cycle_momentum: bool = True, cycle_min_mom: Any = 0.8,
                 cycle_max_mom: Any = 0.9, decay_mom_rate: float = 0.0,
                 last_batch_iteration: int = -1) -> None:
        fn = "jaxsched.OneCycle"
        groups = self._read_groups(fn, optimizer)
        defaults = getattr(optimizer, "defaults", None)
        if isinstance(defaults, dict):  # a torch optimizer: DeepSpeed's own test
            has_betas = "betas" in defaults
        else:
            has_betas = all("betas" in g or "momentum" not in g for g in groups)
        if cycle_momentum is True and not has_betas:
            warn_momentum_disabled(fn)
        self._start(fn, ds.one_cycle, groups, last_batch_iteration, dict(
            cycle_min_lr=cycle_min_lr, cycle_max_lr=cycle_max_lr, decay_lr_rate=decay_lr_rate,
            cycle_first_step_size=cycle_first_step_size,
            cycle_second_step_size=cycle_second_step_size,
            cycle_first_stair_count=cycle_first_stair_count,
            cycle_second_stair_count=cycle_second_stair_count, decay_step_size=decay_step_size,
            cycle_momentum=cycle_momentum, cycle_min_mom=cycle_min_mom,
            cycle_max_mom=cycle_max_mom, decay_mom_rate=decay_mom_rate),
            write_momentum=has_betas)

    def _write_group_momentum(self, group: dict[str, Any], value: float) -> None:
        group["betas"] = (value, 0.99)

    def step(self, batch_iteration: int | None = None) -> None:
        """Advances one step, or sets ``last_batch_iteration`` to ``batch_iteration``."""
        self._step_to(batch_iteration)


class WarmupLR(_DeepSpeedAdapter):
    """DeepSpeed's ``WarmupLR`` over ``jaxsched.warmup_lr``; ``warmup_max_lr=None`` takes each
    group's lr.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.WarmupLR(0.5, warmup_num_steps=4, warmup_type="linear")
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(sched.get_last_lr()[0]); sched.step()
        >>> lrs
        [0.0, 0.0, 0.125, 0.25, 0.375, 0.5]
    """

    _factory = staticmethod(ds.warmup_lr)
    _fn = "jaxsched.WarmupLR"

    def __init__(self, optimizer: Any, warmup_min_lr: Any = 0.0, warmup_max_lr: Any = None,
                 warmup_num_steps: int = 1000, warmup_type: str = "log",
                 last_batch_iteration: int = -1) -> None:
        self._warmup_init(optimizer, None, warmup_min_lr, warmup_max_lr, warmup_num_steps,
                          warmup_type, last_batch_iteration)

    def _warmup_init(self, optimizer: Any, total_num_steps: int | None, warmup_min_lr: Any,
                     warmup_max_lr: Any, warmup_num_steps: int, warmup_type: str,
                     last_batch_iteration: int) -> None:
        fn = type(self)._fn
        groups = self._read_groups(fn, optimizer)
        kwargs: dict[str, Any] = dict(
            warmup_min_lr=warmup_min_lr, warmup_max_lr=warmup_max_lr,
            warmup_num_steps=warmup_num_steps, warmup_type=warmup_type,
            lr=[g["lr"] for g in groups])
        if total_num_steps is not None:
            kwargs["total_num_steps"] = total_num_steps
        self._start(fn, type(self)._factory, groups, last_batch_iteration, kwargs)

    def step(self, last_batch_iteration: int | None = None) -> None:
        """Advances one step, or sets ``last_batch_iteration``."""
        self._step_to(last_batch_iteration)


class WarmupDecayLR(WarmupLR):
    """DeepSpeed's ``WarmupDecayLR`` over ``jaxsched.warmup_decay_lr``.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.WarmupDecayLR(0.5, 6, warmup_max_lr=1.0, warmup_num_steps=2,
        ...                                warmup_type="linear", last_batch_iteration=3)
        >>> sched.get_last_lr(), sched.state_dict()
        ([0.75], {'last_batch_iteration': 3})
    """

    _factory = staticmethod(ds.warmup_decay_lr)
    _fn = "jaxsched.WarmupDecayLR"

    def __init__(self, optimizer: Any, total_num_steps: int, warmup_min_lr: Any = 0.0,
                 warmup_max_lr: Any = 0.001, warmup_num_steps: int = 1000,
                 warmup_type: str = "log", last_batch_iteration: int = -1) -> None:
        self._warmup_init(optimizer, total_num_steps, warmup_min_lr, warmup_max_lr,
                          warmup_num_steps, warmup_type, last_batch_iteration)


class WarmupCosineLR(_DeepSpeedAdapter):
    """DeepSpeed's ``WarmupCosineLR`` over ``jaxsched.warmup_cosine_lr``, in ratios of each
    group's lr at construction.

    Example:
        >>> import jaxsched
        >>> sched = jaxsched.WarmupCosineLR([1.0, 2.0], 6, warmup_num_steps=2,
        ...                                 warmup_type="linear", last_batch_iteration=1)
        >>> sched.get_last_lr()
        [0.5, 1.0]
    """

    def __init__(self, optimizer: Any, total_num_steps: int, warmup_min_ratio: Any = 0.0,
                 warmup_num_steps: int = 1000, cos_min_ratio: Any = 0.0001,
                 warmup_type: str = "log", last_batch_iteration: int = -1) -> None:
        fn = "jaxsched.WarmupCosineLR"
        groups = self._read_groups(fn, optimizer)
        self._start(fn, ds.warmup_cosine_lr, groups, last_batch_iteration, dict(
            total_num_steps=total_num_steps, warmup_min_ratio=warmup_min_ratio,
            warmup_num_steps=warmup_num_steps, cos_min_ratio=cos_min_ratio,
            warmup_type=warmup_type, lr=[g["lr"] for g in groups]))

    def step(self, last_batch_iteration: int | None = None) -> None:
        """Advances one step, or sets ``last_batch_iteration``."""
        self._step_to(last_batch_iteration)
