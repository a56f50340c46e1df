"""The knowledge base itself: valid front matter, required sections, links that resolve, coverage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.load import load_documents
from ingest.markdown import parse_sections
from ingest.pipeline import ingest
from ingest.schema import CATEGORIES
from ingest.stats import collect_stats
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder

KB = ROOT / "kb"
SECTIONS = ("Problem", "Solution", "When to use", "When not to use", "Trade-offs", "Cost notes",
            "Operational notes", "Templates", "Related")


def _patterns() -> list[tuple[str, dict[str, object], str]]:
    loaded = load_documents([KB], 5_000_000)
    assert not loaded.skipped, [f"{s.path}: {s.detail}" for s in loaded.skipped]
    return [(d.source, d.front_matter, d.body) for d in loaded.documents if d.kind == "pattern"]


def test_every_document_loads_with_valid_front_matter_and_no_warnings() -> None:
    loaded = load_documents([KB], 5_000_000)
    assert not loaded.skipped and not loaded.notices, [str(n) for n in loaded.notices]


def test_related_ids_exist() -> None:
    patterns = _patterns()
    ids = {fm["id"] for _, fm, _ in patterns}
    missing = [(source, rid) for source, fm, _ in patterns for rid in fm.get("related", []) or []  # type: ignore[attr-defined]
               if rid not in ids]
    assert not missing


def test_patterns_have_the_required_sections_in_order() -> None:
    for source, _, body in _patterns():
        headings = [s.heading for s in parse_sections(body) if s.level == 2]
        assert tuple(headings) == SECTIONS, source


def test_related_links_point_at_existing_files() -> None:
    for source, _, body in _patterns():
        for target in re.findall(r"\]\((\.\./[^)]+\.md)\)", body):
            assert (KB / source).parent.joinpath(target).resolve().is_file(), f"{source}: {target}"


def test_coverage_of_patterns_templates_and_categories(tmp_path: Path) -> None:
    settings = Settings(sources=[KB], index_dir=tmp_path / "index", exclude_rules=KB / "exclude.yaml",
                        embedding_model="test:hashing", _env_file=None)  # type: ignore[call-arg]
    report = ingest(settings, HashingEmbedder(max_tokens=256))
    assert not report.skipped
    from ingest.index import IndexStore

    stats = collect_stats(settings, IndexStore.open(settings, "test:hashing"))
    assert stats.documents_by_kind.get("pattern", 0) >= 40
    assert stats.documents_by_kind.get("persona") == 1
    assert stats.chunks_by_kind.get("template", 0) >= 25
    assert set(stats.categories) == set(CATEGORIES)
    assert {"yaml", "json", "python", "typescript", "hcl"} <= set(stats.templates_by_language)


@pytest.mark.parametrize("path", sorted((KB / "patterns").rglob("*.md")), ids=lambda p: p.stem)
def test_pattern_length_is_focused(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert 60 <= lines <= 300, f"{path.name}: {lines} lines"
