"""Records reference curves from the real Keras 3.15.1 schedules (``KERAS_BACKEND=jax``).

    python tests/reference/generate_keras.py

Entry ``k`` is ``schedule(k)``: what Keras's optimizer uses for the update at
``iterations == k``. Keras computes in float32 on a float32 step, so its values are float32
(and past 2**24 it evaluates a rounded step); the cases are judged against the exact oracle
with Keras as the reference. A case's ``groups`` give ``initial_learning_rate``.
Output: ``jaxsched/reference_data/keras.json``.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras

VERSION = "3.15.1"
OUT = pathlib.Path(__file__).resolve().parents[2] / "jaxsched" / "reference_data" / "keras.json"
FAR = [10**4, 10**6, 2**24 + 1, 2**31 - 2, 2**31 - 1]


def cases() -> list[dict]:
    r = range
    out = []

    def add(name, cls, kwargs, steps, lr=0.1):
        out.append(dict(name=name, **{"class": cls}, kwargs=kwargs, steps=list(steps),
                        groups=[{"lr": lr}]))

    add("exponential", "ExponentialDecay", dict(decay_steps=20, decay_rate=0.9),
        [*r(0, 100), *FAR])
    add("exponential_staircase_fractional", "ExponentialDecay",
        dict(decay_steps=2.5, decay_rate=0.5, staircase=True), [*r(0, 40), *FAR])
    add("inverse_time", "InverseTimeDecay", dict(decay_steps=10, decay_rate=0.5),
        [*r(0, 100), *FAR])
    add("inverse_time_staircase", "InverseTimeDecay",
        dict(decay_steps=7, decay_rate=2.0, staircase=True), [*r(0, 50), *FAR])
    add("piecewise", "PiecewiseConstantDecay",
        dict(boundaries=[10, 30, 31], values=[0.1, 0.05, 0.02, 0.01]), [*r(0, 40), *FAR])
    add("polynomial", "PolynomialDecay", dict(decay_steps=50, end_learning_rate=1e-4,
                                              power=2.0), [*r(0, 70), *FAR])
    add("polynomial_cycle", "PolynomialDecay",
        dict(decay_steps=20, end_learning_rate=0.0, power=0.5, cycle=True), [*r(0, 90), *FAR])
    add("polynomial_warmup_up", "PolynomialDecay",
        dict(decay_steps=30, end_learning_rate=0.1, power=1.0), [*r(0, 40), *FAR], lr=1e-4)
    add("cosine", "CosineDecay", dict(decay_steps=80, alpha=0.0), [*r(0, 100), *FAR])
    add("cosine_warmup", "CosineDecay",
        dict(decay_steps=60, alpha=0.1, warmup_target=0.1, warmup_steps=15),
        [*r(0, 90), *FAR], lr=0.0)
    add("cosine_restarts", "CosineDecayRestarts",
        dict(first_decay_steps=10, t_mul=2.0, m_mul=0.8, alpha=0.01), [*r(0, 160), *FAR])
    add("cosine_restarts_t1", "CosineDecayRestarts",
        dict(first_decay_steps=13, t_mul=1.0, m_mul=0.9), [*r(0, 60), *FAR])
    return out


def main() -> None:
    if keras.__version__ != VERSION:
        sys.exit(f"needs keras {VERSION}, found {keras.__version__}")
    out = []
    for case in cases():
        kwargs = dict(case["kwargs"])
        if case["class"] != "PiecewiseConstantDecay":
            kwargs["initial_learning_rate"] = case["groups"][0]["lr"]
        schedule = getattr(keras.optimizers.schedules, case["class"])(**kwargs)
        steps = sorted(set(case["steps"]))
        out.append({"name": case["name"], "class": case["class"], "keras": True,
                    "kwargs": case["kwargs"], "groups": case["groups"], "steps": steps,
                    "lr": [[float(schedule(k)) for k in steps]]})
    meta = {"library": "keras", "keras": VERSION, "backend": keras.backend.backend(),
            "note": "entry k: schedule(k), in Keras's float32"}
    OUT.write_text(json.dumps({"meta": meta, "cases": out}, indent=None) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
