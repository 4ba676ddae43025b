"""The repository stands alone: the docs link and cite only files that are in it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
MARKDOWN_NAME = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")
REPO_MARKDOWN = {p.name for p in ROOT.rglob("*.md") if not {".venv", "node_modules", "var"} & set(p.parts)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    links = [link for link in LINK.findall(doc.read_text(encoding="utf-8")) if "://" not in link]
    assert [link for link in links if not (doc.parent / link).exists()] == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_markdown_file_a_doc_names_is_in_the_repository(doc):
    """A clone has no briefing notes: a doc that names a .md file must name one the repository holds."""
    names = {Path(name).name for name in MARKDOWN_NAME.findall(doc.read_text(encoding="utf-8"))}
    assert sorted(names - REPO_MARKDOWN) == []
