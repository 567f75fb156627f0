"""Shared test helpers: importing the reference libraries."""

from __future__ import annotations

import importlib
import logging
import os

import pytest


def quiet_deepspeed() -> None:
    """DeepSpeed logs a warning for every read of the lr before the first step."""
    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)


def require(module: str):
    """Imports a reference library; skips without it, unless JAXSCHED_REQUIRE_REFERENCE=1
    (set by the test command, so CI fails instead of silently skipping the live tests)."""
    if os.environ.get("JAXSCHED_REQUIRE_REFERENCE") == "1":
        mod = importlib.import_module(module)
    else:
        mod = pytest.importorskip(module)
    quiet_deepspeed()
    return mod


def require_timm():
    """``timm.scheduler`` without timm's torchvision-importing package ``__init__``
    (``jaxsched.tools.catalog.import_timm_schedulers``); skips or fails as ``require``."""
    from jaxsched.tools import catalog

    if os.environ.get("JAXSCHED_REQUIRE_REFERENCE") == "1":
        return catalog.import_timm_schedulers()
    try:
        return catalog.import_timm_schedulers()
    except ImportError as err:
        pytest.skip(f"timm.scheduler: {err}", allow_module_level=True)
