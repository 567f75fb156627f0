"""The documentation site: built with warnings as errors (a broken cross-reference, a bad
docstring section or a notebook error fails), every public name with an API page, every
schedule in the gallery, no missing image or broken internal link, and the index, a guide and
an API page rendered in headless Chromium (screenshots in ``docs/_build/screenshots``)."""

from __future__ import annotations

import html.parser
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHOTS = DOCS / "_build" / "screenshots"
SCREENSHOT_PAGES = {"index": "index.html", "guide": "migrate/torch.html",
                    "api": "generated/api/jaxsched.one_cycle_lr.html"}

if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_nb") is None:
    if os.environ.get("JAXSCHED_REQUIRE_REFERENCE") == "1":
        raise ImportError("the docs tools are missing: pip install -e '.[docs]'")
    pytest.skip("sphinx / myst-nb not installed (the docs extra)", allow_module_level=True)

sys.path.insert(0, str(DOCS / "_ext"))
import jaxsched_docs  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    """The site, built from scratch with ``-W --keep-going`` into a temporary folder."""
    out = tmp_path_factory.mktemp("html")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]), KERAS_BACKEND="jax")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / ".doctrees"), str(DOCS), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    return out


class _Refs(html.parser.HTMLParser):
    """Links, images and ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "img" and a.get("src") is not None:
            self.images.append(a["src"])
        elif tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.links.append(a["src"])


def _parse(path: pathlib.Path) -> _Refs:
    refs = _Refs()
    refs.feed(path.read_text(errors="replace"))
    return refs


def _local(url: str) -> bool:
    scheme = urllib.parse.urlsplit(url).scheme
    return scheme in ("", "file") and not url.startswith(("mailto:", "javascript:", "data:"))


def test_every_public_name_has_an_api_page(site):
    names = jaxsched_docs.public_names()
    assert len(names) > 150
    assert {m for m, _ in names} == set(jaxsched_docs.API_MODULES)
    missing = []
    for module, name in names:
        page = site / "generated" / "api" / f"{jaxsched_docs.api_page(module, name)}.html"
        if not page.exists() or f"{module}.{name}" not in page.read_text():
            missing.append(f"{module}.{name}")
    assert not missing, f"no API page for {missing}"
    # the docstring made it: a schedule's page has its Args and its Example rendered
    text = (site / "generated/api/jaxsched.one_cycle_lr.html").read_text()
    assert "Parameters" in text and "Example" in text and "torch" in text


def test_gallery_has_every_schedule(site):
    from jaxsched.tools import catalog

    refs = _parse(site / "generated" / "gallery" / "index.html")
    pictures = {pathlib.PurePosixPath(src).name for src in refs.images}
    for name in catalog.ENTRIES:
        assert any(p.startswith(name.replace(":", "-")) for p in pictures), name


def test_no_missing_image_or_broken_internal_link(site):
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)  # templates
    assert len(pages) > 150
    parsed = {page: _parse(page) for page in pages}
    ids = {page: refs.ids for page, refs in parsed.items()}
    broken, missing = [], []
    for page, refs in parsed.items():
        for src in refs.images:
            target = (page.parent / urllib.parse.unquote(urllib.parse.urlsplit(src).path))
            if not _local(src) or not target.is_file() or target.stat().st_size == 0:
                missing.append(f"{page.relative_to(site)}: {src}")
    for page, refs in parsed.items():
        for href in refs.links:
            if not _local(href):
                continue
            parts = urllib.parse.urlsplit(href)
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() \
                if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href}")
            elif parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _parse(target).ids
                if urllib.parse.unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: {href} (no such anchor)")
    assert not missing, f"images that are not there: {missing[:20]}"
    assert not broken, f"broken internal links: {broken[:20]}"


def test_pages_render_the_sources(site):
    """Each hand-written page, the notebooks (with their stored figures), the parity tables
    and the changelog are in the site."""
    for md in DOCS.rglob("*.md"):
        rel = md.relative_to(DOCS)
        if rel.parts[0] in ("_build", "generated"):
            continue
        assert (site / rel.with_suffix(".html")).exists(), rel
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        page = site / "generated" / "notebooks" / f"{nb.stem}.html"
        assert page.exists() and _parse(page).images, nb.name
    bench = (site / "benchmarks.html").read_text()
    assert "Parity against the exact oracle" in bench and "Targets" in bench
    changelog = (site / "changelog.html").read_text()
    first = next(line for line in (ROOT / "CHANGELOG.md").read_text().splitlines()
                 if line.startswith("## "))
    assert first.removeprefix("## ").split("]")[0].strip("[") in changelog


def test_no_power_read_as_bold(site):
    """Markdown reads ``2**31 ... 2**53`` in one paragraph as bold (``31 ... 2``): powers in
    prose go in code spans. Also the reference tables carry the stylesheet that keeps them
    inside the page."""
    bad = []
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.parts:
            continue
        bad += [f"{page.relative_to(site)}: {m}" for m in
                re.findall(r"<strong>\d[^<]{0,40}", page.read_text())]
    assert not bad, bad[:10]
    assert "tables.css" in (site / "concepts" / "counts.html").read_text()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.parametrize("label", sorted(SCREENSHOT_PAGES))
def test_screenshot_in_headless_chromium(site, label, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("JAXSCHED_REQUIRE_REFERENCE") == "1":
            pytest.fail("chromium is not installed (apt-get install chromium; "
                        "`python3 run.py test` installs it when run as root)")
        pytest.skip("chromium is not installed")
    import matplotlib.image

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{label}.png"
    shot.unlink(missing_ok=True)
    url = (site / SCREENSHOT_PAGES[label]).as_uri()
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000",
                    f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1000, 1280)
    assert pixels[..., :3].std() > 0.05  # a rendered page, not a blank one
