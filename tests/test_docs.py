"""The documentation site: `mkdocs build --strict` passes (no broken links, no warnings), the API
page documents the public functions, README.md stays short and links only to pages that exist,
and every page in docs/ is reachable from the site's nav.

Needs mkdocs, mkdocs-material and mkdocstrings[python] (see docs/development.md for the pins)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 220

# name -> a phrase of its docstring that the generated API page must show
API_FUNCTIONS = {
    "evaluate": "Score model on task with method",
    "fidelity": "Sample model and score the samples against reference",
    "load_model": "A ready",
    "list_models": "Bundled checkpoint names matching",
}


def _text(page: str) -> str:
    """Visible text of an HTML page, whitespace collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    # no -q: mkdocs counts warnings for --strict only when they are logged
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, f"mkdocs build --strict failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return out


def test_strict_build_passes(site):
    assert (site / "index.html").is_file()
    for page in sorted(DOCS.glob("*.md")):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"


def test_api_page_documents_the_public_functions(site):
    text = _text((site / "api" / "index.html").read_text())
    for name, phrase in API_FUNCTIONS.items():
        assert re.search(rf"\b{name}\s*\(", text), f"the API page has no signature of {name}"
        assert phrase in text, f"the API page lacks {name}'s docstring ({phrase!r})"


def _readme_doc_links(readme: str) -> list[str]:
    return re.findall(r"\]\((docs/[^)#\s]+)(?:#[^)\s]*)?\)", readme)


def test_readme_is_short_and_links_to_existing_pages():
    readme = (ROOT / "README.md").read_text()
    n = len(readme.splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines (at most {README_MAX_LINES}): move detail to docs/"
    links = _readme_doc_links(readme)
    assert links, "README.md links to no docs page"
    missing = sorted({link for link in links if not (ROOT / link).is_file()})
    assert not missing, f"README.md links to missing pages: {missing}"
    unlinked = sorted(p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in links)
    assert not unlinked, f"README.md's documentation index misses: {unlinked}"


def _nav_pages(config: str) -> set[str]:
    """The .md files named in mkdocs.yml's top-level `nav:` block."""
    block = re.search(r"^nav:\s*\n(.*?)(?=^\S)", config + "\nend:\n", re.S | re.M)
    assert block, "mkdocs.yml has no nav"
    return set(re.findall(r"([\w./-]+\.md)\s*$", block.group(1), re.M))


def test_every_page_is_in_the_nav():
    nav = _nav_pages((ROOT / "mkdocs.yml").read_text())
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages, "docs/ holds no pages"
    assert not pages - nav, f"pages missing from mkdocs.yml nav: {sorted(pages - nav)}"
    assert not nav - pages, f"nav names pages that do not exist: {sorted(nav - pages)}"
