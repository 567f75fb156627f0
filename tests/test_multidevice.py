"""The 8-device data-parallel checks, in a fresh process (XLA_FLAGS must precede jax)."""

from __future__ import annotations

import pathlib
import subprocess
import sys


def test_eight_devices():
    script = pathlib.Path(__file__).with_name("multidevice_check.py")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ALL OK" in out.stdout
