from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.errors import SourceError
from ingest.load import load_documents, split_front_matter
from ingest.repair import repair_text
from tests.conftest import FIXTURES

DOCS = FIXTURES / "docs"
MOJIBAKE = ("‚Üí", "üö®", "â€”", "Ã©")


def test_repair_fixes_mac_roman_and_cp1252_mojibake() -> None:
    text = repair_text((DOCS / "mojibake.md").read_text(encoding="utf-8"))
    assert "→" in text and "—" in text and "🚨" in text
    assert not any(bad in text for bad in MOJIBAKE)


def test_repair_keeps_line_count_and_html_entities() -> None:
    source = "a\r\nb &amp; c\r\n```\n&lt;tag&gt;\n```\n"
    repaired = repair_text(source)
    assert repaired.count("\n") == source.count("\n")
    assert "&amp;" in repaired and "&lt;tag&gt;" in repaired


def test_front_matter_after_heading_is_parsed_with_a_warning() -> None:
    text = (DOCS / "late-front-matter.md").read_text()
    data, body, notices = split_front_matter(text, "late.md")
    assert data["title"] == "Timeouts late"
    assert [n.line for n in notices] == [3]
    assert "after the leading heading" in notices[0].message
    assert body.split("\n")[0] == "# Late Front Matter"
    assert body.count("\n") == text.count("\n"), "line numbers must survive"
    assert "title:" not in body


def test_malformed_front_matter_warns_with_line_and_keeps_body() -> None:
    text = (DOCS / "broken-front-matter.md").read_text()
    data, body, notices = split_front_matter(text, "broken.md")
    assert data == {}
    assert len(notices) == 1 and "malformed front matter" in notices[0].message
    assert notices[0].line in (3, 4)
    assert "DynamoDB on-demand" in body


def test_title_from_front_matter_then_h1_then_file_name(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: From FM\n---\n# Heading\n")
    (tmp_path / "b.md").write_text("intro\n\n# From H1\n\ntext\n")
    (tmp_path / "c_d.txt").write_text("no heading here\n")
    titles = {d.source: d.title for d in load_documents([tmp_path], 10_000).documents}
    assert titles == {"a.md": "From FM", "b.md": "From H1", "c_d.txt": "c d"}


def test_bad_files_are_skipped_with_reasons_and_the_rest_load(tmp_path: Path) -> None:
    shutil.copy(DOCS / "table.md", tmp_path / "good.md")
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "empty.md").write_text("  \n\n")
    (tmp_path / "latin1.md").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "big.markdown").write_text("# Big\n" + "x" * 2000)
    (tmp_path / "ignored.rst").write_text("not markdown")
    result = load_documents([tmp_path], max_bytes=1000)
    assert [d.source for d in result.documents] == ["good.md"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons == {"binary.md": "binary", "empty.md": "empty", "latin1.md": "invalid-encoding",
                       "big.markdown": "over-size"}
    assert "line 1" in next(s.detail for s in result.skipped if s.reason == "invalid-encoding")


def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")
    (tmp_path / "ok.md").write_text("# Fine\n\ntext\n")
    result = load_documents([tmp_path], 10_000)
    assert [d.source for d in result.documents] == ["ok.md"]
    assert [(s.path, s.reason) for s in result.skipped] == [("dangling.md", "unreadable")]


def test_a_symlink_out_of_the_root_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nnot for the index\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.md").symlink_to(outside / "secret.md")
    result = load_documents([root], 10_000)
    assert result.documents == [] and [(s.path, s.reason) for s in result.skipped] == [("link.md", "outside-root")]


def test_missing_source_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_documents([tmp_path / "nope"], 10_000)


def test_invalid_pattern_front_matter_names_file_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "patterns" / "cost"
    folder.mkdir(parents=True)
    (folder / "bad-one.md").write_text("---\nid: bad-one\ntitle: Bad one\ncategory: cooking\n"
                                       "providers: [aws]\ntags: [x]\n---\n# Bad one\n\ntext\n")
    (folder / "wrong-id.md").write_text("---\nid: other\ntitle: Wrong id\ncategory: cost\n"
                                        "providers: [aws]\ntags: [x]\n---\n# Wrong\n\ntext\n")
    skipped = {s.path: s.detail for s in load_documents([tmp_path], 10_000).skipped}
    assert "field 'category'" in skipped["patterns/cost/bad-one.md"]
    assert "patterns/cost/bad-one.md" in skipped["patterns/cost/bad-one.md"]
    assert "field 'id'" in skipped["patterns/cost/wrong-id.md"]


def test_seed_documents_load_and_report_their_front_matter_problems(seeds: Path) -> None:
    result = load_documents([seeds], 5_000_000)
    assert len(result.documents) == 5 and not result.skipped
    late = [n for n in result.notices if "after the leading heading" in n.message]
    assert [(n.path, n.line) for n in late] == [("003_bbd7cf4f1880764f.txt", 3)]
    for doc in result.documents:
        assert not any(bad in doc.body for bad in MOJIBAKE), doc.source
