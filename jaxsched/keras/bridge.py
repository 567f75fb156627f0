"""Any jaxsched schedule as a Keras ``LearningRateSchedule`` (Keras 3, any backend that can
call a JAX function; ``KERAS_BACKEND=jax`` is what is tested), for ``keras.optimizers`` and
``model.fit``, saved and loaded by Keras's own serialization.

Keras is imported only here and only when called (``import jaxsched`` never imports it),
on the JAX backend unless ``KERAS_BACKEND`` names another.
Two kinds of Keras classes are made, each once, and registered with
``keras.saving.register_keras_serializable(package="jaxsched")``:

* ``keras_class(cls)`` for a Keras-named schedule (``jaxsched.keras.CosineDecay`` ...): a
  subclass of both ``cls`` and Keras's base class, serialized as ``{"module":
  "jaxsched.keras.schedules", "class_name": "CosineDecay", "registered_name":
  "jaxsched>CosineDecay", "config": <Keras's config>}``. ``KerasSchedule`` builds its
  instances from these whenever Keras is already imported, so they drop in directly.
* ``JaxschedSchedule`` for every other schedule (``jaxsched.one_cycle_lr``,
  ``jaxsched.warmup_cosine_lr`` ...): it calls the schedule on the optimizer's
  ``iterations``; its config is the factory's name and arguments, rebuilt by calling the
  factory again.
"""

from __future__ import annotations

import functools
import importlib
import numbers
from collections.abc import Mapping
from typing import Any

from jaxsched.core.schedule import Schedule
from jaxsched.keras.base import PACKAGE, KerasSchedule, _keras, keras_class

__all__ = ["PACKAGE", "as_keras_schedule", "from_keras_config", "keras_class",
           "register_with_keras"]


def _plain(value: Any) -> bool:
    """Whether a factory argument survives JSON (Keras's config format) unchanged."""
    if value is None or isinstance(value, (str, bool, numbers.Real)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _factory(name: Any) -> Any:
    """The public jaxsched callable ``name`` (``"jaxsched.one_cycle_lr"``), or ``None``."""
    if not isinstance(name, str) or not name.startswith("jaxsched."):
        return None
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        return obj if callable(obj) else None
    return None


@functools.cache
def _wrapper() -> type:
    keras = _keras()

    class JaxschedSchedule(keras.optimizers.schedules.LearningRateSchedule):
        """A jaxsched schedule as a Keras ``LearningRateSchedule``: ``self(step)`` is
        ``schedule(step)``, the value in force at the optimizer's ``iterations``."""

        def __init__(self, schedule: Schedule) -> None:
            super().__init__()
            if not isinstance(schedule, Schedule):
                raise TypeError(f"jaxsched.keras.as_keras_schedule: schedule must be a "
                                f"jaxsched.Schedule, got {schedule!r}")
            self.schedule = schedule

        def __call__(self, step: Any) -> Any:
            return self.schedule(step)

        def get_config(self) -> dict[str, Any]:
            s = self.schedule
            if _factory(s.name) is None or not _plain(s.params):
                raise TypeError(
                    f"jaxsched.keras.as_keras_schedule: {s!r} cannot be saved by Keras: only "
                    f"a schedule made by a public jaxsched factory from plain arguments "
                    f"(numbers, strings, lists) is rebuilt from its config")
            return {"schedule": s.name, "params": dict(s.params)}

        @classmethod
        def from_config(cls, config: Mapping[str, Any]) -> JaxschedSchedule:
            return cls(from_keras_config(config))

        def __repr__(self) -> str:
            return f"<JaxschedSchedule {self.schedule!r}>"

    JaxschedSchedule.__module__ = __name__
    return keras.saving.register_keras_serializable(PACKAGE, "JaxschedSchedule")(
        JaxschedSchedule)


def from_keras_config(config: Mapping[str, Any]) -> Schedule:
    """The schedule of a ``JaxschedSchedule``'s config: ``{"schedule": factory name,
    "params": its keyword arguments}``, rebuilt by calling the factory."""
    fn = "jaxsched.keras.deserialize"
    if not isinstance(config, Mapping) or set(config) != {"schedule", "params"}:
        raise ValueError(f"{fn}: a JaxschedSchedule config has the keys 'schedule' and "
                         f"'params', got {config!r}")
    factory = _factory(config["schedule"])
    if factory is None:
        raise ValueError(f"{fn}: schedule must name a public jaxsched factory (e.g. "
                         f"'jaxsched.one_cycle_lr'), got {config['schedule']!r}")
    if not isinstance(config["params"], Mapping):
        raise TypeError(f"{fn}: params must be a dict, got {config['params']!r}")
    schedule = factory(**config["params"])
    if not isinstance(schedule, Schedule):
        raise ValueError(f"{fn}: {config['schedule']!r} does not make a jaxsched.Schedule")
    return schedule


def register_with_keras() -> dict[str, type]:
    """Registers every jaxsched Keras class with Keras's serialization (what
    ``keras.models.load_model`` and ``keras.optimizers.schedules.deserialize`` look up) and
    returns them by registered name. ``as_keras_schedule`` and building a Keras-named
    schedule with Keras loaded register theirs; call this before loading a saved model in
    a fresh process.

    Example:
        >>> from jaxsched import keras as jk
        >>> sorted(jk.register_with_keras())[:2]
        ['jaxsched>CosineDecay', 'jaxsched>CosineDecayRestarts']
    """
    from jaxsched.keras.schedules import CLASSES

    classes = [keras_class(c) for c in CLASSES.values()] + [_wrapper()]
    return {f"{PACKAGE}>{c.__name__}": c for c in classes}


def as_keras_schedule(schedule: Schedule) -> Any:
    """``schedule`` as a ``keras.optimizers.schedules.LearningRateSchedule``: for
    ``keras.optimizers.*(learning_rate=...)`` and ``model.fit``, and saved with the model.

    A ``jaxsched.keras`` schedule becomes an instance of its Keras-bound class (the same
    formula and config); any other ``jaxsched.Schedule`` is wrapped. Imports Keras.

    Args:
        schedule: any ``jaxsched.Schedule`` (``jaxsched.one_cycle_lr(...)``,
            ``jaxsched.keras.CosineDecay(...)`` ...).

    Returns:
        A Keras ``LearningRateSchedule`` whose value at the optimizer's ``iterations`` ``k``
        is ``schedule(k)``.

    Raises:
        TypeError: if ``schedule`` is not a ``jaxsched.Schedule``.

    Example:
        >>> import jaxsched
        >>> from jaxsched import keras as jk
        >>> lr = jk.as_keras_schedule(jaxsched.one_cycle_lr(max_lr=0.1, total_steps=100))
        >>> type(lr).__name__, round(float(lr(29)), 6)
        ('JaxschedSchedule', 0.1)
    """
    if isinstance(schedule, KerasSchedule):
        if getattr(type(schedule), "_keras_bound", False):
            return schedule
        return keras_class(type(schedule)).from_config(schedule.get_config())
    if not isinstance(schedule, Schedule):
        raise TypeError(f"jaxsched.keras.as_keras_schedule: schedule must be a "
                        f"jaxsched.Schedule, got {schedule!r}")
    return _wrapper()(schedule)
