"""PDFs: text with the page each line came from, headings from the outline or type size, and
the files that cannot be read skipped with their reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answer import Citation
from core.settings import Settings
from ingest.chunk import Chunker, ChunkLimits
from ingest.index import IndexStore
from ingest.load import load_documents
from ingest.markdown import parse_sections
from ingest.pdf import convert
from ingest.pipeline import ingest
from ingest.records import Converted, Document, Skipped
from tests.fakes import HashingEmbedder
from tests.ingest.pdf_fixtures import make_pdf, make_scanned_pdf

HEADINGS = ["Event-driven design", "Event-driven design > Idempotent consumers", "Event-driven design > Ordering",
            "Cost"]


def _converted(path: Path) -> Converted:
    result = convert(path.read_bytes(), path.name)
    assert isinstance(result, Converted), result
    return result


def _sections(body: str) -> list[str]:
    return [s.section_path for s in parse_sections(body) if s.level]


@pytest.mark.parametrize(("outline", "sized"), [(True, False), (False, True)], ids=["outline", "type-size"])
def test_headings_come_from_the_outline_or_from_type_size(tmp_path: Path, outline: bool, sized: bool) -> None:
    converted = _converted(make_pdf(tmp_path / "paper.pdf", outline=outline, sized_headings=sized))
    assert _sections(converted.body) == HEADINGS
    assert converted.title == "Event-driven serverless whitepaper"
    assert converted.summary == "How to design event-driven serverless systems."


def test_without_outline_or_larger_type_there_are_no_headings(tmp_path: Path) -> None:
    converted = _converted(make_pdf(tmp_path / "flat.pdf", outline=False, sized_headings=False))
    assert _sections(converted.body) == []
    assert "Every consumer must tolerate duplicates" in converted.body


def test_page_numbers_and_running_footers_are_dropped_and_paragraphs_kept(tmp_path: Path) -> None:
    body = _converted(make_pdf(tmp_path / "paper.pdf")).body
    assert "draft for review" not in body
    assert not any(line.strip().isdigit() for line in body.split("\n")), body
    assert "A producer does not know who\nlistens, so new consumers" in body, "a paragraph keeps its lines"
    assert "changing it.\n\n## Idempotent consumers" in body


def test_each_page_start_is_recorded_and_chunks_carry_their_pages(tmp_path: Path) -> None:
    converted = _converted(make_pdf(tmp_path / "paper.pdf"))
    lines = converted.body.split("\n")
    assert len(converted.pages) == 3
    assert lines[converted.pages[1] - 1] == "## Ordering"
    assert lines[converted.pages[2] - 1].startswith("the group is unblocked")
    doc = Document("paper.pdf", tmp_path, converted.title, "other", converted.body, pages=converted.pages)
    chunks = Chunker(HashingEmbedder().count_tokens, ChunkLimits(256, 200, 3)).chunk(doc, parse_sections(doc.body))
    pages = {c.section.split(" > ")[-1]: (c.start_page, c.end_page) for c in chunks}
    assert pages == {"Event-driven design": (1, 1), "Idempotent consumers": (1, 1), "Ordering": (2, 3),
                     "Cost": (3, 3)}


def test_markdown_lookalike_lines_stay_text() -> None:
    from ingest.pdf import _escaped

    assert _escaped("# not a heading") == "\\# not a heading"
    assert _escaped("```") == "\\```"
    assert _escaped("<div>") == "\\<div>"
    assert _escaped("• bullet") == "- bullet"
    assert _escaped("Plain text.") == "Plain text."


def test_citations_show_the_page_or_the_page_range() -> None:
    base = {"n": 1, "source": "docs/paper.pdf", "title": "T", "section": "T", "anchor": "t", "start_line": 5,
            "end_line": 9, "score": 0.5, "text": "x"}
    assert Citation(**base, start_page=2, end_page=2).location == "docs/paper.pdf, p. 2"
    assert Citation(**base, start_page=2, end_page=3).location == "docs/paper.pdf, pp. 2\u20133"
    assert Citation(**base).location == "docs/paper.pdf:5-9", "a citation without pages is unchanged"
    old = Citation.model_validate_json(Citation(**base).model_dump_json(exclude={"start_page", "end_page"}))
    assert old.start_page is None, "JSON written before pages existed still validates"


def test_pages_reach_the_index_metadata(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = settings.sources[0]
    make_pdf(kb / "paper.pdf")
    (kb / "notes.md").write_text("# Notes\n\nA markdown page has no pages.\n")
    report = ingest(settings, embedder)
    assert report.documents_changed == 2 and not report.skipped
    metas = IndexStore.open(settings, embedder.name).all_metadata()
    pages: dict[str, list[tuple[int, int]]] = {}
    for meta in sorted((m for m in metas if m["source"] == "paper.pdf"), key=lambda m: m["ordinal"]):
        pages.setdefault(meta["section"].split(" > ")[-1], []).append((meta["start_page"], meta["end_page"]))
    assert pages["Ordering"][0][0] == 2 and pages["Ordering"][-1][1] == 3, "the section runs onto page 3"
    assert set(pages["Cost"]) == {(3, 3)} and set(pages["Event-driven design"]) == {(1, 1)}
    assert all("start_page" not in m for m in metas if m["source"] == "notes.md")


def test_a_scanned_pdf_is_skipped_with_its_reason(tmp_path: Path) -> None:
    make_scanned_pdf(tmp_path / "scan.pdf")
    make_pdf(tmp_path / "paper.pdf")
    result = load_documents([tmp_path], 1_000_000)
    assert [d.source for d in result.documents] == ["paper.pdf"]
    (skipped,) = result.skipped
    assert (skipped.path, skipped.reason) == ("scan.pdf", "no-text-layer")
    assert "2 page(s) with no text layer" in skipped.detail and "OCR" in skipped.detail


def test_a_password_protected_pdf_is_skipped(tmp_path: Path) -> None:
    result = convert(make_pdf(tmp_path / "locked.pdf", password="s3cret").read_bytes(), "locked.pdf")
    assert isinstance(result, Skipped) and result.reason == "encrypted" and "password" in result.detail


@pytest.mark.parametrize(("damage", "detail"), [
    (lambda raw: raw[: len(raw) // 3], "not a readable PDF"),
    (lambda raw: b"%PDF-1.4\n" + bytes(range(256)) * 8, "not a readable PDF"),
    (lambda raw: b"GIF89a" + raw[6:], "no %PDF- header"),
], ids=["truncated", "garbage-after-header", "no-header"])
def test_a_corrupt_pdf_is_skipped_with_what_was_wrong(tmp_path: Path, damage: object, detail: str) -> None:
    raw = make_pdf(tmp_path / "paper.pdf").read_bytes()
    result = convert(damage(raw), "broken.pdf")  # type: ignore[operator]
    assert isinstance(result, Skipped), result
    assert (result.reason, result.path) == ("corrupt", "broken.pdf")
    assert detail in result.detail, result.detail
