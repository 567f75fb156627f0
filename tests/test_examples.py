"""The examples run, train to > 90% validation accuracy, and compile their step once."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script", ["digits_warmup_cosine.py", "per_epoch_loop.py"])
def test_example_runs(script):
    out = subprocess.run([sys.executable, script], cwd=EXAMPLES, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "traced 1 time(s)" in out.stdout
