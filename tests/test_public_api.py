"""Every public name imports, is documented, and importing jaxsched pulls in no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import jaxsched


@pytest.mark.parametrize("name", jaxsched.__all__)
def test_public_name_imports_and_is_documented(name):
    obj = getattr(jaxsched, name)
    assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_all_is_sorted_and_complete():
    public = {n for n in dir(jaxsched) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(jaxsched, n)).__name__ == "module"}
    assert set(jaxsched.__all__) == public - modules
    assert list(jaxsched.__all__) == sorted(jaxsched.__all__)


@pytest.mark.parametrize("name", jaxsched.presets.__all__)
def test_preset_imports_and_is_documented(name):
    obj = getattr(jaxsched.presets, name)
    assert obj.__doc__ and "arXiv:" in obj.__doc__, f"{name} cites no paper"


ORIGINS = ("pytorch", "deepspeed", "transformers", "timm", "keras", "megatron", "presets")


@pytest.mark.parametrize("origin", ORIGINS)
def test_origin_subpackage_names_import_and_are_documented(origin):
    """Each origin's subpackage re-exports its public names, each documented. torch's,
    DeepSpeed's and transformers' are also top-level names (the same objects); timm's live
    only under ``jaxsched.timm`` (its ``step_lr`` is not torch's)."""
    package = getattr(jaxsched, origin, None) or __import__(f"jaxsched.{origin}",
                                                           fromlist=["_"])
    assert package.__doc__ and package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        obj = getattr(package, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"jaxsched.{origin}.{name}"
        if origin not in ("timm", "keras", "megatron") and hasattr(jaxsched, name):
            assert getattr(jaxsched, name) is obj, name


def test_import_does_not_import_torch_or_deepspeed():
    code = ("import sys, jaxsched, jaxsched.tools.parity, jaxsched.tools.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'deepspeed', 'transformers', 'timm', 'keras', 'megatron', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_factories_return_schedules():
    s = jaxsched.warmup_lr(warmup_max_lr=0.1)
    assert isinstance(s, jaxsched.Schedule) and s.momentum is None
    assert isinstance(jaxsched.one_cycle(0.1, 1.0).momentum, jaxsched.Schedule)
    assert jaxsched.one_cycle(0.1, 1.0, cycle_momentum=False).momentum is None


def test_schedule_jits_directly():
    """jax.jit(s) itself, not only jax.jit(jax.vmap(s)): jit keeps a weak reference."""
    import jax

    s = jaxsched.step_lr(2, 0.5, lr=1.0)
    assert float(jax.jit(s)(4)) == 0.25
    assert float(jax.jit(s.__call__)(3)) == 0.5
