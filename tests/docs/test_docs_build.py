"""The Sphinx documentation builds with warnings as errors.

It is built into docs/_build/html, where the API serves it at /docs/.
Every page in docs/ must be reachable from the index (Sphinx warns about
orphans, and -W makes that an error) and every local link must resolve.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
# Every page of the documentation set (issue #6): this area's, the
# architecture contract, and the parts' reference pages.
REQUIRED = {
    "index", "quickstart", "architecture", "operations", "security",
    "api", "request-schema", "core", "model-store", "pipeline", "columns",
    "dataset-lab", "client",
}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"a", "link"} and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])


class _Sidebar(HTMLParser):
    """The pages the sidebar's table of contents lists at its top level (``li.toctree-l1`` links)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.depth = 0  # <div> nesting inside div.sphinxsidebar
        self.entry = False
        self.pages: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div" and (self.depth or "sphinxsidebar" in classes):
            self.depth += 1
        elif self.depth and tag == "li" and "toctree-l1" in classes:
            self.entry = True
        elif self.entry and tag == "a":
            self.pages.append(urlparse(attrs.get("href", "")).path or self.page)  # "#": the page itself
            self.entry = False

    def handle_endtag(self, tag):
        if tag == "div" and self.depth:
            self.depth -= 1


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def built() -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", str(DOCS), str(HTML)],
        capture_output=True, text=True, timeout=300,
    )
    return proc


def _sources() -> set[str]:
    return {p.stem for p in DOCS.glob("*.md")} | {p.stem for p in DOCS.glob("*.rst")}


def test_docs_build_without_warnings(built):
    assert built.returncode == 0, f"sphinx-build -W failed:\n{built.stderr}"
    assert built.stderr.strip() == "", built.stderr


def test_every_page_is_built(built):
    assert built.returncode == 0, built.stderr
    sources = _sources()
    assert REQUIRED <= sources
    for name in sources:
        assert (HTML / f"{name}.html").is_file(), f"{name} was not built"


def test_index_links_every_page(built):
    assert built.returncode == 0, built.stderr
    hrefs = {urlparse(h).path for h in _parse(HTML / "index.html").hrefs}
    for name in _sources() - {"index"}:
        assert f"{name}.html" in hrefs, f"index does not link {name}"


def test_sidebar_lists_each_page_once(built):
    assert built.returncode == 0, built.stderr
    pages = {f"{name}.html" for name in _sources() - {"index"}}
    for page in sorted(pages | {"index.html"}):
        sidebar = _Sidebar(page)
        sidebar.feed((HTML / page).read_text(encoding="utf-8"))
        twice = sorted(p for p, n in Counter(sidebar.pages).items() if n > 1)
        assert not twice, f"{page}: the sidebar lists {twice} more than once"
        assert set(sidebar.pages) == pages, f"{page}: sidebar misses {sorted(pages - set(sidebar.pages))}"


def test_readme_says_how_to_build_the_docs():
    """The README gives the venv's sphinx-build, warnings as errors, from docs/ to docs/_build/html."""
    text = (ROOT / "README.md").read_text()
    found = re.search(r"\.venv/bin/sphinx-build [^`#\n]+", text)
    assert found, "README.md does not say how to build the documentation"
    argv = shlex.split(found.group(0))
    assert "-W" in argv and argv[-4:] == ["-b", "html", "docs", "docs/_build/html"], argv
    assert (Path(sys.executable).parent / "sphinx-build").is_file()


def test_wide_tables_wrap_inside_the_page(built):
    """Each page links the table style; in a real browser no table runs past the page body."""
    assert built.returncode == 0, built.stderr
    css = HTML / "_static" / "tables.css"
    assert css.is_file() and "white-space: normal" in css.read_text()
    for page in ("request-schema.html", "api.html"):
        hrefs = {urlparse(h).path for h in _parse(HTML / page).hrefs}
        assert "_static/tables.css" in hrefs, f"{page} does not link the table style"
    try:
        from browser.chromium import chromium, find_binaries

        find_binaries()
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(f"no headless Chromium for the layout check: {exc}")
    overflow = """
        const body = document.querySelector('div.body').getBoundingClientRect();
        return [...document.querySelectorAll('div.body table')].map(t => [
            Math.round(t.getBoundingClientRect().right - body.right), t.scrollWidth - t.clientWidth]);"""
    with tempfile.TemporaryDirectory() as profile, chromium(Path(profile)) as browser:
        for width in (1280, 1000):
            browser.set_window_size(width, 1200)
            browser.get((HTML / "request-schema.html").as_uri())
            tables = browser.execute_script(overflow)
            assert tables, "no table found on request-schema.html"
            for past_body, scrolled in tables:
                # the table ends inside the body and needs no sideways scrolling either
                assert past_body <= 0 and scrolled <= 1, (width, past_body, scrolled)


def test_local_links_resolve(built):
    assert built.returncode == 0, built.stderr
    pages = sorted(HTML.glob("*.html"))
    parsed = {p.name: _parse(p) for p in pages}
    for page, links in parsed.items():
        for href in links.hrefs:
            url = urlparse(href)
            if url.scheme or url.netloc or href.startswith("mailto:"):
                continue
            target = page if not url.path else unquote(url.path)
            path = (HTML / target).resolve()
            assert path.exists(), f"{page}: broken link {href}"
            if url.fragment and path.suffix == ".html":
                ids = parsed[path.name].ids if path.name in parsed else _parse(path).ids
                assert url.fragment in ids, f"{page}: no anchor #{url.fragment} in {target}"


def test_version_comes_from_pyproject(built):
    import tomllib

    assert built.returncode == 0, built.stderr
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert re.search(rf"AntiNex {re.escape(version)}", (HTML / "index.html").read_text())


def test_operations_documents_every_example_env_variable():
    # The env file and its documentation must not drift apart.
    names = {
        line.split("=", 1)[0]
        for line in (ROOT / "envs" / "example.env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    text = (DOCS / "operations.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/operations.md does not mention {missing}"
