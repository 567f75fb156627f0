"""The README's examples and the docs pages' examples run as written: every ```python block of
README.md, each on its own in a fresh namespace, and of the hand-written pages under docs/
(guides, concepts, migration guides), a page's blocks in turn in one namespace, as a reader runs
the page from the top."""

from __future__ import annotations

import os
import pathlib
import re

import pytest

from jaxsched import LRFinderResult

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def python_blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def doc_pages() -> list[pathlib.Path]:
    """The hand-written pages (not the build output nor the generated API / gallery pages)."""
    return sorted(p for p in DOCS.rglob("*.md")
                  if p.relative_to(DOCS).parts[0] not in ("_build", "generated"))


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Examples that write files (plots, checkpoints) write them in a temporary folder."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))


def _run(block: str, where: str, namespace: dict | None = None) -> dict:
    namespace = {"__name__": "__example__"} if namespace is None else namespace
    exec(compile(block, where, "exec"), namespace)
    return namespace


def test_readme_examples_run_as_written(scratch):
    blocks = python_blocks(README)
    assert len(blocks) >= 6  # one example per origin
    for i, block in enumerate(blocks):
        ns = _run(block, f"README.md python block {i}")
        if "sched" in ns and hasattr(ns["sched"], "state_dict") and "WarmupDecayLR" in block:
            assert ns["sched"].state_dict() == {"last_batch_iteration": 5000}  # as commented
        if "pw" in ns:  # Keras's inclusive boundary, as the comment says
            assert float(ns["pw"](1000)) == pytest.approx(1e-3)
            assert float(ns["pw"](1001)) == pytest.approx(5e-4)


def test_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.encode()) <= 15_500
    assert "python3 run.py demo" in text and "python3 run.py test" in text
    assert "python3 run.py docs" in text
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not link.startswith(("http://", "https://")):
            assert (ROOT / link).exists(), link


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_examples_run_as_written(scratch, page):
    ns: dict = {"__name__": "__example__"}
    for i, block in enumerate(python_blocks(page)):
        _run(block, f"{page.relative_to(ROOT)} python block {i}", ns)
        if isinstance(ns.get("res"), LRFinderResult):  # the suggestion below the divergence
            res = ns["res"]
            assert res.diverged and 0 < res.suggestion < res.divergence_lr
        if "sched" in ns and "WarmupDecayLR" in block:
            assert ns["sched"].state_dict() == {"last_batch_iteration": 5000}


def test_the_moved_examples_are_in_the_docs():
    """Every example the README used to hold lives on in a docs page."""
    pages = {p.relative_to(DOCS).as_posix(): p for p in doc_pages()}
    for page in ("migrate/torch.md", "migrate/deepspeed.md", "migrate/huggingface.md",
                 "migrate/timm.md", "migrate/keras.md", "migrate/megatron.md",
                 "guides/training.md", "guides/loop.md", "guides/lr_finder.md",
                 "guides/presets.md"):
        assert python_blocks(pages[page]), page
