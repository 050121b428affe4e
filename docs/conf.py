"""Sphinx configuration for the AntiNex documentation.

The pages are Markdown (MyST). The build runs with warnings as errors in the
tests (``sphinx-build -W -b html docs docs/_build/html``) and the API serves
the result at ``/docs/``.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

with (ROOT / "pyproject.toml").open("rb") as fh:
    _project = tomllib.load(fh)["project"]

project = "AntiNex"
author = "AntiNex contributors"
copyright = "2018 Jay Johnson; AntiNex contributors"
release = _project["version"]
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# GitHub-style anchors (#section-title) for links inside and across pages.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "alabaster"
html_title = f"AntiNex {release}"
html_theme_options = {
    "description": "Deep neural networks that defend web apps, trained on their own traffic",
    "fixed_sidebar": True,
}
# The docs are served from a sub-path (/docs/) without a web server in front.
html_copy_source = False
html_show_sourcelink = False
