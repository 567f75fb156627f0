"""The distribution: ``python -m build`` makes the sdist and, from it, the wheel; the wheel
installed into a clean venv imports, has every public name, the stored reference curves, the
``py.typed`` marker and the ``jaxsched`` command, and needs only the core dependencies.

Kept fast and offline: the source is copied to a temporary directory (nothing is written into
the repository), built without isolation (with this environment's setuptools), the clean venv
is made without pip and gets the wheel with ``--no-deps`` (through this environment's pip),
and sees the dependencies through a ``.pth`` file naming this environment's site-packages (the
``.pth`` files in there, such as an editable install of jaxsched, are not processed, so the
venv's jaxsched is the wheel's: checked).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest

import jaxsched
from jaxsched.tools import cli, cli_common

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
CORE = {"jax", "jaxlib", "optax", "numpy", "mpmath"}
# the build and the venv are module fixtures: one xdist worker makes them once for the tests
# that use them (python3 run.py test distributes with --dist loadgroup)
BUILT = pytest.mark.xdist_group("packaging")
FAMILIES = ("deepspeed", "huggingface", "keras", "megatron", "timm", "torch")


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "jaxsched", src / "jaxsched",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = src / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
         cwd=src)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    wheel, _ = dist
    env_dir = tmp_path_factory.mktemp("venv") / "clean"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                    "['purelib'])"], env=_clean_env()).stdout.strip()
    # the dependencies, from this environment (appended after the venv's own site-packages)
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    (__import__("pathlib").Path(purelib) / "_test_dependencies.pth").write_text(
        "\n".join(deps) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
          "--no-deps", "--no-index", str(wheel)], env=_clean_env())
    return env_dir, python


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    return env


CHECK = """
import importlib.metadata, importlib.resources, json, pathlib, sys
import jaxsched
print(json.dumps({
    "file": jaxsched.__file__,
    "version": jaxsched.__version__,
    "metadata_version": importlib.metadata.version("jaxsched"),
    "missing": [n for n in jaxsched.__all__ if not hasattr(jaxsched, n)],
    "all": sorted(jaxsched.__all__),
    "data": sorted(p.name for p in importlib.resources.files("jaxsched.reference_data").iterdir()
                   if p.name.endswith(".json")),
    "data_ok": all(json.loads(p.read_text()) for p in
                   importlib.resources.files("jaxsched.reference_data").iterdir()
                   if p.name.endswith(".json")),
    "typed": importlib.resources.files("jaxsched").joinpath("py.typed").is_file(),
    "optional_loaded": sorted(m for m in ("matplotlib", "tqdm", "flax", "sklearn", "torch")
                              if m in sys.modules),
    "requires": importlib.metadata.requires("jaxsched"),
}))
"""


@BUILT
def test_wheel_in_a_clean_venv(venv, tmp_path):
    env_dir, python = venv
    got = json.loads(_run([str(python), "-c", CHECK], cwd=tmp_path, env=_clean_env()).stdout)
    assert got["file"].startswith(str(env_dir)), got["file"]  # the wheel's, not the checkout's
    assert got["version"] == got["metadata_version"] == jaxsched.__version__
    assert got["missing"] == []
    assert got["all"] == sorted(jaxsched.__all__)
    assert got["data"] == [f"{f}.json" for f in FAMILIES] and got["data_ok"]
    assert got["typed"]
    assert got["optional_loaded"] == []  # import jaxsched needs only the core dependencies
    core = {r.split(";")[0].split(">")[0].split("=")[0].strip() for r in got["requires"]
            if "extra ==" not in r}
    assert core == CORE
    extras = {r.split("extra ==")[1].strip(" '\"") for r in got["requires"] if "extra ==" in r}
    assert {"plot", "cli", "test"} <= extras


@BUILT
def test_command_in_a_clean_venv(venv, tmp_path):
    env_dir, _ = venv
    script = env_dir / ("Scripts/jaxsched.exe" if os.name == "nt" else "bin/jaxsched")
    out = _run([str(script), "--help"], cwd=tmp_path, env=_clean_env())
    assert "usage: jaxsched" in out.stdout and "compare" in out.stdout


@BUILT
def test_wheel_and_sdist_contents(dist):
    wheel, sdist = dist
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    with tarfile.open(sdist) as t:
        sdist_names = {n.partition("/")[2] for n in t.getnames()}
    for need in ["jaxsched/py.typed", "jaxsched/_version.py", "jaxsched/tools/cli.py",
                 *(f"jaxsched/reference_data/{f}.json" for f in FAMILIES)]:
        assert need in names, f"{need} not in the wheel"
        assert need in sdist_names, f"{need} not in the sdist"
    assert not any(n.startswith(("tests/", "notebooks/", "bench/")) for n in names)


@pytest.fixture
def no_matplotlib(monkeypatch):
    """matplotlib as if not installed (an import of it raises ImportError)."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)


@pytest.mark.parametrize("argv", [
    ["plot", "StepLR", "step_size=2", "--steps", "5"],
    ["compare", "--case", "cosine_far"],
], ids=["plot", "compare"])
def test_cli_names_the_missing_extra(no_matplotlib, argv, tmp_path, capsys):
    assert cli.main([*argv, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert f"jaxsched {argv[0]}: error: jaxsched {argv[0]} needs matplotlib, which is not " \
           "installed: pip install 'jaxsched[plot]'" in err
    assert not (tmp_path / "x.png").exists()


def test_find_lr_plot_names_the_missing_extra(no_matplotlib, tmp_path):
    lrs = np.geomspace(1e-4, 1.0, 5)
    res = jaxsched.LRFinderResult(lrs=lrs, losses=np.ones(5), smoothed=np.ones(5),
                                  diverged=False, divergence_lr=None,
                                  suggestions={"valley": 1e-2})
    with pytest.raises(ImportError, match=r"LRFinderResult.plot needs matplotlib, which is not "
                       r"installed: pip install 'jaxsched\[plot\]'"):
        res.plot(path=tmp_path / "lr.png")


def test_progress_bars_are_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    items = [1, 2, 3]
    assert cli_common._progress("draws", 3)(items) is items
