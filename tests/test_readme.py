"""The README's "Use" example runs as written."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_use_section_runs():
    text = README.read_text()
    section = text[text.index("## Use"):text.index("## Training with it")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    sched = namespace["sched"]
    assert sched.state_dict() == {"last_batch_iteration": 5000}
    assert abs(float(namespace["oc"](1000)) - 1e-3) < 1e-9  # the peak, as the comment says


def test_every_python_block_runs_as_written(tmp_path, monkeypatch):
    """Each ```python block of the README, run on its own in a fresh namespace."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        namespace: dict = {}
        exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        if "res" in namespace:  # the LR range test: the suggestion below the divergence lr
            res = namespace["res"]
            assert res.diverged and 0 < res.suggestion < res.divergence_lr
