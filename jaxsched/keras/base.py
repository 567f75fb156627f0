"""The base of the Keras-named schedules: ``KerasSchedule`` (a ``jaxsched.Schedule`` with
Keras's ``get_config`` / ``from_config``, and a Keras ``LearningRateSchedule`` where Keras
is loaded) and the argument checks they share, under Keras 3.15.1's acceptance: any real
step count > 0, any real rate; an unusual value warns once, never raises."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxsched.core import checks as check
from jaxsched.core.exact import divide, half_cos, mix, to_float
from jaxsched.core.schedule import Schedule

__all__ = ["KerasSchedule"]

PACKAGE = "jaxsched"  # Keras's registered names are "jaxsched>ClassName"


def _keras() -> Any:
    """Keras, imported on the JAX backend unless a backend was chosen (``KERAS_BACKEND``)
    or Keras is imported already: a jaxsched schedule computes with JAX."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as err:  # pragma: no cover - keras is a test dependency
        raise ImportError(f"jaxsched.keras.as_keras_schedule needs Keras 3 on the JAX backend "
                          f"(pip install keras; KERAS_BACKEND=jax): {err}") from err
    return keras


@functools.cache
def keras_class(cls: type) -> type:
    """The subclass of a ``jaxsched.keras`` schedule class that is also a
    ``keras.optimizers.schedules.LearningRateSchedule``, registered for Keras's
    serialization as ``jaxsched>{cls.__name__}`` (made once per class)."""
    keras = _keras()
    bound = type(cls.__name__, (cls, keras.optimizers.schedules.LearningRateSchedule), {
        "__module__": "jaxsched.keras.schedules", "__qualname__": cls.__name__,
        "__doc__": cls.__doc__, "_keras_bound": True, "_plain": cls})
    return keras.saving.register_keras_serializable(PACKAGE, cls.__name__)(bound)


_CLASSES: dict[str, type] = {}  # the Keras-named classes by name, for unpickling


class KerasSchedule(Schedule):
    """A ``jaxsched.Schedule`` that is also a Keras ``LearningRateSchedule``:
    ``get_config()`` gives Keras's config dict, ``from_config(config)`` rebuilds it.

    jaxsched never imports Keras. Where Keras is already imported when a schedule is
    built, the instance is of a subclass that also derives from
    ``keras.optimizers.schedules.LearningRateSchedule`` (registered for Keras's
    serialization as ``jaxsched>ClassName``), so it drops into ``keras.optimizers.Adam``
    and ``model.fit``; ``jaxsched.keras.as_keras_schedule`` makes one of any schedule.
    """

    __slots__ = ("_config",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("_keras_bound", False):
            _CLASSES[cls.__name__] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> KerasSchedule:
        del args, kwargs
        if "keras.optimizers" in sys.modules and not getattr(cls, "_keras_bound", False):
            cls = keras_class(cls)  # Keras is loaded: no import of ours here
        return super().__new__(cls)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (getattr(type(self), "_plain", type(self)).__name__,
                          self.get_config())

    def _build(self, fn: Any, config: dict[str, Any]) -> None:
        self._config = dict(config)
        params = {k: v for k, v in config.items() if k != "name"}
        name = getattr(type(self), "_plain", type(self)).__name__
        Schedule.__init__(self, fn, name=f"jaxsched.keras.{name}", params=params)

    def get_config(self) -> dict[str, Any]:
        """Keras's ``get_config()``: the constructor's arguments, ``name`` included."""
        return {k: (list(v) if isinstance(v, (list, tuple)) else v)
                for k, v in self._config.items()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> KerasSchedule:
        """Keras's ``from_config``: the schedule ``cls(**config)``."""
        if not isinstance(config, Mapping):
            raise TypeError(f"jaxsched.keras.{cls.__name__}.from_config: config must be a "
                            f"dict, got {config!r}")
        return cls(**config)


def _rebuild(class_name: str, config: dict[str, Any]) -> KerasSchedule:
    """Unpickles a Keras-named schedule (a Keras-bound one too) from its config."""
    return _CLASSES[class_name](**config)


def _steps(fn: str, name: str, value: Any) -> float | int:
    """A positive step count as Keras takes it: any real > 0 (``int`` when whole and within
    the count's range, so positions stay integer arithmetic)."""
    v = check.real(fn, name, value)
    if v <= 0:
        raise ValueError(f"{fn}: {name} must be > 0 (Keras raises), got {value!r}")
    return int(v) if v.is_integer() and v <= check.MAX_COUNT else v


def _lr(fn: str, name: str, value: Any, notes: list[str]) -> float:
    """A learning rate: any finite real; a negative one is noted (gradient ascent)."""
    v = check.real(fn, name, value)
    if v < 0:
        notes.append(f"{name}={value!r} is negative (the optimizer ascends the gradient)")
    return v


def _name(fn: str, name: Any) -> Any:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{fn}: name must be a string or None, got {name!r}")
    return name


def _quotient(k: jax.Array, d: float | int) -> jax.Array:
    """``k / d`` (a correctly rounded quotient for an integer ``d``)."""
    return divide(k, d) if isinstance(d, int) else to_float(k) / d


def _left(k: jax.Array, d: float | int) -> jax.Array:
    """``d - min(k, d)``: integer for a whole ``d``, else an exact float (float64)."""
    if isinstance(d, int):
        return d - jnp.minimum(k, d)
    return d - jnp.minimum(to_float(k), d)


def _cosine(rest: jax.Array, span: Any, alpha: float, scale: Any = 1.0) -> jax.Array:
    """``(1 - alpha) * scale * (1 + cos(pi x)) / 2 + alpha`` at ``x = 1 - rest / span``."""
    c = half_cos(rest, span)
    return mix(1.0 - alpha, scale * c, alpha, 1.0)


def _alpha(fn: str, alpha: Any, notes: list[str]) -> float:
    alpha = check.real(fn, "alpha", alpha)
    if alpha < 0:
        notes.append(f"alpha={alpha!r} is negative (the lr decays below 0)")
    return alpha
