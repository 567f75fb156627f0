#!/usr/bin/env python3
"""Set-up and entry points on a fresh machine with only python3.

    python3 run.py demo    # the main job: every schedule vs the stored reference curves
    python3 run.py test    # ruff, then the whole test suite (doctests, live torch/DeepSpeed parity)
    python3 run.py docs    # the documentation site, into docs/_build/html

Each creates ``.venv`` on first use (again whenever pyproject.toml changes): ``demo`` installs
``jaxsched[plot]`` (the library and matplotlib for its figures), ``docs`` ``jaxsched[docs]``
(also Sphinx, MyST-NB, sphinx-book-theme), ``test`` ``jaxsched[test]`` (also the reference
libraries, test and docs tools) and timm; as root, ``test`` installs Debian's ``chromium`` when
it is missing (the docs test screenshots the site). Extra arguments go to the demo, to pytest or
to sphinx-build; the tests run on one pytest-xdist worker per core unless they say ``-n``.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*cmd: str | os.PathLike, env: dict | None = None) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(list(map(str, cmd)), check=True, cwd=ROOT, env=env)


# timm's wheel asks for torchvision, which does not install beside the pinned torch here;
# its scheduler package needs only torch and numpy, so it is installed without dependencies
# (and imported without its package __init__: jaxsched.tools.catalog.import_timm_schedulers).
NO_DEPS = ("timm==1.0.31",)


def ensure_env(kind: str = "test") -> None:
    """The venv with what ``kind`` needs: ``demo`` the library and matplotlib (it compares
    with the stored reference curves), ``test`` also the reference libraries and test tools."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()
                          + repr(NO_DEPS).encode()).hexdigest()
    stamps = {k: VENV / f".jaxsched-installed-{k}" for k in ("demo", "docs", "test")}
    done = [k for k, s in stamps.items() if s.exists() and s.read_text() == want]
    if PY.exists() and (kind in done or "test" in done):  # test is a superset of the others
        return
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    if kind == "demo":
        run(PY, "-m", "pip", "install", "--quiet", "-e", ".[plot]")
    elif kind == "docs":
        run(PY, "-m", "pip", "install", "--quiet", "-e", ".[docs]")
    else:
        run(PY, "-m", "pip", "install", "--quiet", "-e", ".[test]")
        run(PY, "-m", "pip", "install", "--quiet", "--no-deps", *NO_DEPS)
    stamps[kind].write_text(want)


def ensure_chromium() -> None:
    """Debian's ``chromium`` for the docs test's screenshots, when it is missing and we are
    root (CI on a fresh machine); otherwise that test says what to install."""
    if shutil.which("chromium") or os.name != "posix" or os.geteuid() != 0 \
            or not shutil.which("apt-get"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", env=env)


def pytest_args(args: list[str]) -> list[str]:
    """One xdist worker per core (``-n auto``) unless the arguments choose (``-n``, or
    ``-p no:xdist``); ``--dist loadgroup`` keeps the tests marked ``xdist_group`` (those
    sharing an expensive module fixture) on one worker."""
    if any(a == "-n" or a.startswith(("-n", "--numprocesses")) or a == "no:xdist"
           for a in args):
        return args
    return ["-n", "auto", "--dist", "loadgroup", *args]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "docs"):
        print(__doc__, file=sys.stderr)
        return 2
    ensure_env(argv[0])
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        if argv[0] == "demo":
            run(PY, "-m", "jaxsched.tools.demo", *argv[1:], env=env)
        elif argv[0] == "docs":
            env["KERAS_BACKEND"] = "jax"
            run(PY, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs",
                "docs/_build/html", *argv[1:], env=env)
            print(f"open {ROOT / 'docs/_build/html/index.html'}")
        else:
            ensure_chromium()
            env["JAXSCHED_REQUIRE_REFERENCE"] = "1"  # live parity must run, not skip
            run(PY, "-m", "ruff", "check", ".", env=env)
            run(PY, "-m", "pytest", *pytest_args(argv[1:]), env=env)
    except subprocess.CalledProcessError as err:
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
