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
