"""Integration: the five messy reference documents, with the bundled model and a real Chroma."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.settings import BUNDLED_MODEL, Settings
from ingest.index import IndexStore
from ingest.pipeline import IngestReport, ingest

pytestmark = pytest.mark.integration
MOJIBAKE = re.compile("‚Üí|üö|â€|Ã©|Ã¼|ï¸")
AGENT_TEXT = ("Co-Authored-By", "COMMIT ATTRIBUTION", "QUEST MODE", "Quest Worker", "WORKER MANTRA",
              "Maintain your role identity", "mcp__context7__")


def _stored(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    got = IndexStore.open(settings, BUNDLED_MODEL).chunks().get(include=["documents", "metadatas"])
    return list(zip(got["documents"], got["metadatas"], strict=True))


def _meaningful_fences(path: Path, excluded: list[tuple[int, int]]) -> int:
    """Fenced blocks of 3+ non-blank lines outside excluded spans, counted without the project's parser."""
    count, opened, body = 0, 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if line.lstrip().startswith("```"):
            if not opened:
                opened, body = number, []
                continue
            if line.strip() == "```":
                inside = any(a <= opened <= b for a, b in excluded)
                count += not inside and len([b for b in body if b.strip()]) >= 3
                opened = 0
                continue
        if opened:
            body.append(line)
    return count


def test_no_mojibake_and_no_agent_instructions(seeds_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = seeds_index
    stored = _stored(settings)
    assert len(stored) > 100
    for text, meta in stored:
        assert not MOJIBAKE.search(text), f"{meta['source']}:{meta['start_line']}"
        assert not any(a.lower() in text.lower() for a in AGENT_TEXT), f"{meta['source']}:{meta['start_line']}"


def test_a_template_for_each_meaningful_fence(seeds_index: tuple[Settings, IngestReport]) -> None:
    settings, report = seeds_index
    stored = _stored(settings)
    for path in sorted(settings.sources[0].iterdir()):
        spans = [tuple(int(x) for x in e.lines.split("-")) for e in report.excluded if e.source == path.name]
        templates = [m for _, m in stored if m["source"] == path.name and m["kind"] == "template"]
        assert len(templates) == _meaningful_fences(path, spans), path.name  # type: ignore[arg-type]


def test_code_comments_do_not_become_headings(seeds_index: tuple[Settings, IngestReport]) -> None:
    settings, _ = seeds_index
    stored = _stored(settings)
    sections = {m["section"] for _, m in stored}
    assert not any("NEVER - Overly permissive" in s or "ALWAYS - Least privilege" in s for s in sections)
    iam = [m for _, m in stored if m["source"].startswith("004") and m["start_line"] == 603]
    assert [m["kind"] for m in iam] == ["template"]
    assert iam[0]["section"].endswith("Production Guidelines > Security Standards > IAM Least Privilege")


def test_excluded_sections_are_explained(seeds_index: tuple[Settings, IngestReport]) -> None:
    _, report = seeds_index
    rules = {e.rule for e in report.excluded}
    assert {"commit-attribution", "quest-protocol", "identity-protection", "agent-workflow"} <= rules


def test_reingest_edit_and_delete(seeds_index: tuple[Settings, IngestReport], bundled_embedder: Any,
                                  tmp_path: Path) -> None:
    original, _ = seeds_index
    settings = original.model_copy(update={"index_dir": tmp_path / "index", "sources": [tmp_path / "seeds"]})
    shutil.copytree(original.index_dir, settings.index_dir)
    shutil.copytree(original.sources[0], settings.sources[0])
    noop = ingest(settings, bundled_embedder)
    assert noop.documents_changed == 0 and noop.chunks_added == 0 and not noop.model_loaded
    edited = settings.sources[0] / "001_cb4698fc262660c5.txt"
    edited.write_text(edited.read_text().replace("Function-as-a-Service", "functions as a service", 1))
    changed = ingest(settings, bundled_embedder)
    assert changed.documents_changed == 1 and 1 <= changed.chunks_added <= 2
    assert changed.chunks_deleted == changed.chunks_added
    (settings.sources[0] / "002_c478c9d8280a7220.txt").unlink()
    removed = ingest(settings, bundled_embedder)
    assert removed.documents_removed == 1
    assert not [m for _, m in _stored(settings) if m["source"].startswith("002")]
