#!/usr/bin/env python3
"""Set-up and entry points on a fresh machine with only python3.

    python3 run.py demo    # the main job: every schedule vs the stored reference curves
    python3 run.py test    # ruff, then the whole test suite (doctests, live torch/DeepSpeed parity)

Both create ``.venv`` and install ``jaxsched[test]`` into it on first use (again whenever
pyproject.toml changes). Extra arguments go to the demo or to pytest.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*cmd: str | os.PathLike, env: dict | None = None) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(list(map(str, cmd)), check=True, cwd=ROOT, env=env)


def ensure_env() -> None:
    stamp = VENV / ".jaxsched-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", ".[test]")
    stamp.write_text(want)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    ensure_env()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        if argv[0] == "demo":
            run(PY, "-m", "jaxsched.tools.demo", *argv[1:], env=env)
        else:
            env["JAXSCHED_REQUIRE_REFERENCE"] = "1"  # live parity must run, not skip
            run(PY, "-m", "ruff", "check", ".", env=env)
            run(PY, "-m", "pytest", *argv[1:], env=env)
    except subprocess.CalledProcessError as err:
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
