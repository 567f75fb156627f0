"""Sphinx configuration: MyST-NB and sphinx-book-theme (as optax and flax use).

``python3 run.py docs`` builds the site into ``docs/_build/html``; ``tests/test_docs.py`` builds
it with warnings as errors. The API pages, the gallery's pictures and copies of the notebooks
are generated at build time into ``docs/generated/`` (``_ext/jaxsched_docs.py``).
"""

from __future__ import annotations

import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("KERAS_BACKEND", "jax")

project = "jaxsched"
author = "jaxsched maintainers"
copyright = "2026, jaxsched maintainers"
release = "0.1.0"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "jaxsched_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]

# The notebooks are committed with their outputs (the test suite executes them): render those.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "sphinx_book_theme"
html_title = "jaxsched"
html_static_path: list[str] = ["_static"]
html_css_files = ["tables.css"]
html_theme_options = {
    "show_toc_level": 2,
    # Only the current branch of the sidebar is rendered: with an API page per public name,
    # the full tree on every page would be most of the build time.
    "collapse_navbar": True,
    "navigation_with_keys": False,
    "use_repository_button": False,
}
suppress_warnings = ["mystnb.unknown_mime_type"]
