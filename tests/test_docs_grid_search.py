"""The python code blocks of docs/guides/grid_search.md run as written."""

from __future__ import annotations

import pathlib
import re

import pytest

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guides" / "grid_search.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs(code, capsys):
    exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_grid_search"})
    assert "candidate" in capsys.readouterr().out
