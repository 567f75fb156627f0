"""The 8-device data-parallel checks, in a fresh process (XLA_FLAGS must precede jax).

Each runs under a bounded timeout: 8 fake CPU devices on a 2-core machine can deadlock in
XLA:CPU's collectives when many steps are queued without a sync (the check scripts read a
value back every step), and a hang must fail with that said, not stall the suite.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

TIMEOUT = 300  # seconds; each check takes well under a minute on 2 cores
HANG = ("{what} did not finish within {timeout} s: a hang in XLA:CPU's cross-device "
        "collectives (8 fake devices on few cores deadlock when ~40 collective steps are "
        "queued without a sync: read a value back every step; see REFERENCE-SEMANTICS.md, "
        "'JAX hazards'). Output so far:\n{out}")


def _text(out) -> str:
    return (out.decode(errors="replace") if isinstance(out, bytes) else out or "")[-3000:]


def test_eight_devices():
    script = pathlib.Path(__file__).with_name("multidevice_check.py")
    try:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=TIMEOUT)
    except subprocess.TimeoutExpired as err:
        pytest.fail(HANG.format(what=script.name, timeout=TIMEOUT,
                                out=_text(err.stdout) + _text(err.stderr)))
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
    try:
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                for other in procs:
                    other.kill()
                partial = [_text(p.communicate()[0]) for p in procs]
                pytest.fail(HANG.format(what=f"{script.name} (2 processes)", timeout=TIMEOUT,
                                        out="\n---\n".join(partial)))
            if proc.returncode != 0:  # the other one would wait for it forever
                for other in procs:
                    if other.poll() is None:
                        other.kill()
            outs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for pid, (proc, out) in enumerate(zip(procs, outs, strict=True)):
        assert proc.returncode == 0, out[-3000:]
        assert f"process {pid}: lr identical on 8 devices in 2 processes" in out
        assert "ALL OK" in out
