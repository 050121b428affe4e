"""The Sphinx documentation builds with warnings as errors.

It is built into docs/_build/html, where the API serves it at /docs/.
Every page in docs/ must be reachable from the index (Sphinx warns about
orphans, and -W makes that an error) and every local link must resolve.
"""
from __future__ import annotations

import re
import subprocess
import sys
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
