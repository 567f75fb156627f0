"""Strict test set-up: warnings are errors (pyproject), hypothesis profiles, trace counters,
and JAX's persistent compilation cache."""

from __future__ import annotations

import getpass
import importlib.util
import os
import pathlib
import sys
import tempfile

CACHE_MAX_BYTES = 2**31  # with a limit, JAX evicts the oldest entries and locks the directory


def _compilation_cache() -> str | None:
    """JAX's persistent compilation cache for the test run: every compiled executable is kept
    (none is too quick to keep), so a program compiled again (the same schedule in another
    test, another xdist worker, a CLI, notebook or example subprocess, the next run) is read
    back instead of compiled: about half the CPU time of a parity file on a warm cache. It
    lives in the environment (``<venv>/.jaxsched-jax-cache``; a temporary directory outside a
    venv); entries are keyed by the program, jax version, backend and flags, so a stale one is
    never used. With a size limit JAX locks the directory around each read and write
    (filelock, which torch brings), so xdist workers never read a half-written entry.

    Off unless asked for: ``JAXSCHED_TEST_JAX_CACHE=venv`` keeps it in the venv, ``=DIR`` in
    DIR. Measured on 2 cores (test_deepspeed_parity + test_exact, one process): 181 s with no
    cache, 311 s with a cold one (61 s of it in the kernel: every small program written and
    locked). A fresh clone, as CI runs, always starts cold, so the default is off; a developer
    re-running files on a warm cache may turn it on."""
    choice = os.environ.get("JAXSCHED_TEST_JAX_CACHE", "off")
    if choice == "off" or importlib.util.find_spec("filelock") is None:  # no lock: no cache
        return None
    if choice != "venv":
        path = pathlib.Path(choice)
    elif sys.prefix != sys.base_prefix and os.access(sys.prefix, os.W_OK):
        path = pathlib.Path(sys.prefix) / ".jaxsched-jax-cache"
    else:
        path = pathlib.Path(tempfile.gettempdir()) / f"jaxsched-jax-cache-{getpass.getuser()}"
    path.mkdir(parents=True, exist_ok=True)
    # as environment variables too, before jax is imported here, so subprocesses share it
    os.environ["JAXSCHED_TEST_JAX_CACHE"] = str(path)
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(path))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(CACHE_MAX_BYTES))
    return os.environ["JAX_COMPILATION_CACHE_DIR"]


_CACHE = _compilation_cache()

import chex  # noqa: E402  (after the cache's environment variables)
import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

if _CACHE is not None:  # jax may have been imported before this file: set it here as well
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size",
                      int(os.environ["JAX_COMPILATION_CACHE_MAX_SIZE"]))

# "default" (CI and `python3 run.py test`) draws the same examples on every run, so the
# suite's verdict is a function of the code; "explore" draws new ones each run (as many) and
# "thorough" ten times as many: run them when changing a schedule, and turn what they find
# into named tests.
_QUIET = [HealthCheck.too_slow, HealthCheck.differing_executors]
settings.register_profile("default", deadline=None, max_examples=30, derandomize=True,
                          suppress_health_check=_QUIET)
settings.register_profile("explore", deadline=None, max_examples=30, suppress_health_check=_QUIET)
settings.register_profile("noshrink", deadline=None, max_examples=30, derandomize=True,
                          suppress_health_check=_QUIET,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # the raw draw
settings.register_profile("thorough", deadline=None, max_examples=300,
                          suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _fresh_trace_counters():
    """chex.assert_max_traces counts per function across tests: start each test at zero,
    whether or not the previous one got to the end."""
    chex.clear_trace_counter()
    yield
    chex.clear_trace_counter()


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test leaves open through pyplot (the docs' and notebooks' examples plot
    and keep their figure) close after it: otherwise a worker that happens to run more than
    20 of them warns ``More than 20 figures have been opened``, an error here."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


# The generators import torch/DeepSpeed at module level; tests import them when those exist.
collect_ignore_glob = ["reference/*.py"]
# The multi-device scripts set XLA_FLAGS (8 or 4 CPU devices) when imported: they run only in
# their own subprocesses (test_multidevice), never imported by --doctest-modules into a test
# process, whose device count would then depend on which was collected last.
collect_ignore = ["multidevice_check.py", "multiprocess_check.py", "wide_multidevice_check.py"]


def pytest_configure(config):
    """Keras's own schedule tests (run by test_keras_upstream.py) carry Keras's marks."""
    config.addinivalue_line("markers", "requires_trainable_backend: Keras's own test mark")
