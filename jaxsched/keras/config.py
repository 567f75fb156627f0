"""A Keras user's saved schedule as a jaxsched schedule in one call: from
``keras.optimizers.schedules.serialize`` output (or a ``{"class_name", "config"}`` dict, as
Keras's ``deserialize`` takes, also nested in an optimizer's config) or from a class name and
its ``get_config()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxsched.core import checks as check
from jaxsched.keras import schedules

__all__ = ["CLASSES", "deserialize", "from_config"]

CLASSES = schedules.CLASSES


def from_config(class_name: str, config: Mapping[str, Any]) -> schedules.KerasSchedule:
    """The schedule ``class_name`` (a Keras class name) built from its ``get_config()``.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.from_config("ExponentialDecay", {"initial_learning_rate": 0.1,
        ...     "decay_steps": 10, "decay_rate": 0.5, "staircase": False,
        ...     "name": "ExponentialDecay"})
        >>> round(float(s(10)), 6)
        0.05
    """
    fn = "jaxsched.keras.from_config"
    name = check.choice(fn, "class_name", class_name, tuple(CLASSES))
    if not isinstance(config, Mapping):
        raise TypeError(f"{fn}: config must be a dict (a get_config() result), got {config!r}")
    check.known_keywords(f"jaxsched.keras.{name}", config,
                         CLASSES[name].__init__.__code__.co_varnames[
                             1:CLASSES[name].__init__.__code__.co_argcount], "config key")
    return CLASSES[name].from_config(config)


def deserialize(config: Mapping[str, Any]) -> schedules.KerasSchedule:
    """Keras's ``deserialize``: ``serialize`` output (``{"module":
    "keras.optimizers.schedules", "class_name": ..., "config": {...}, "registered_name":
    ...}``) or the shorter ``{"class_name", "config"}``; an optimizer's serialized config
    whose ``learning_rate`` is such a dict works too. What Keras writes for a jaxsched
    schedule reads back as well: module ``jaxsched.keras.schedules`` (a Keras-named one)
    or ``jaxsched.keras.bridge`` (``as_keras_schedule`` of any other, rebuilt by calling its
    factory again). Keras is not imported.

    Raises:
        ValueError: for a class Keras does not ship, naming the ones it does (custom
            schedules have no jaxsched formula), or a dict without a schedule.

    Example:
        >>> from jaxsched import keras
        >>> s = keras.deserialize({"module": "keras.optimizers.schedules",
        ...     "class_name": "PiecewiseConstantDecay", "registered_name": None,
        ...     "config": {"boundaries": [10], "values": [0.1, 0.01],
        ...                "name": "PiecewiseConstant"}})
        >>> round(float(s(10)), 6), round(float(s(11)), 6)
        (0.1, 0.01)
    """
    fn = "jaxsched.keras.deserialize"
    if not isinstance(config, Mapping):
        raise TypeError(f"{fn}: config must be a dict, got {config!r}")
    inner = config.get("config")
    if isinstance(inner, Mapping) and isinstance(inner.get("learning_rate"), Mapping):
        config = inner["learning_rate"]  # a serialized optimizer: its lr schedule
    elif "class_name" not in config and isinstance(config.get("learning_rate"), Mapping):
        config = config["learning_rate"]  # an optimizer's get_config()
    if "class_name" not in config or "config" not in config:
        raise ValueError(f"{fn}: expected keras.optimizers.schedules.serialize output (keys "
                         f"'class_name' and 'config'), got keys {sorted(config)}")
    module = config.get("module", "keras.optimizers.schedules")
    if module == "jaxsched.keras.bridge" and config["class_name"] == "JaxschedSchedule":
        from jaxsched.keras import bridge  # no Keras import: it only rebuilds the factory

        return bridge.from_keras_config(config["config"])
    if module not in ("keras.optimizers.schedules", "jaxsched.keras.schedules", None):
        raise ValueError(f"{fn}: {config['class_name']!r} comes from module {module!r}, not "
                         f"keras.optimizers.schedules (or jaxsched's own Keras classes); "
                         f"only Keras's own schedules are ported")
    return from_config(config["class_name"], config["config"])
