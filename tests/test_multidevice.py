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


def test_two_processes(tmp_path):
    """jax.distributed on CPU: two processes of four devices, one mesh; the same lr
    everywhere and a bit-exact orbax resume (tests/multiprocess_check.py)."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    script = pathlib.Path(__file__).with_name("multiprocess_check.py")
    procs = [subprocess.Popen([sys.executable, str(script), str(pid), str(port), str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for pid in (0, 1)]
    outs = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=600)
        finally:
            for other in procs:
                if other.poll() is None and proc.returncode not in (0, None):
                    other.kill()
        outs.append(out)
    for pid, (proc, out) in enumerate(zip(procs, outs, strict=True)):
        assert proc.returncode == 0, out[-3000:]
        assert f"process {pid}: lr identical on 8 devices in 2 processes" in out
        assert "ALL OK" in out
