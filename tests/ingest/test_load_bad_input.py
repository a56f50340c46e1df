"""Bad input (issue 10, item 5): every hostile or broken file gets a one-line reason, nothing
outside the source roots is read, and the rest of the corpus ingests."""

from __future__ import annotations

import builtins
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from core.settings import Settings
from ingest import load
from ingest.index import IndexStore
from ingest.load import load_documents
from ingest.pipeline import ingest
from ingest.render import print_report
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder
from tests.ingest.pdf_fixtures import make_pdf

BAD = FIXTURES / "bad"
LIMIT = 20_000  # KB_MAX_FILE_BYTES for these tests: a "100 MB" file is one over this
SECRET = "SECRET-OUTSIDE-THE-ROOT"
EXPECTED_SKIPS = {
    "broken.pdf": "corrupt", "logo.html": "binary", "template.yaml": "yaml-bomb", "link.md": "outside-root",
    "huge.md": "over-size", "gone.md": "vanished", "pipe.md": "unreadable",
}


def _corpus(base: Path) -> Path:
    """A source root holding good documents beside every kind of bad input, and secrets beside it."""
    outside = base / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.md").write_text(f"# Secret\n\n{SECRET}\n")
    (outside / "dir" / "notes.md").write_text(f"# Notes\n\n{SECRET} again\n")
    root = base / "root"
    (root / "docs").mkdir(parents=True)
    (root / "good.md").write_text("# Good\n\nDead-letter queues catch poison messages after three attempts.\n")
    make_pdf(root / "paper.pdf")
    (root / "broken.pdf").write_bytes(make_pdf(base / "whole.pdf").read_bytes()[:1500])
    (root / "logo.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    shutil.copy(BAD / "billion-laughs.yaml", root / "template.yaml")
    shutil.copy(BAD / "escaping-snippets.md", root / "docs" / "snippets.md")
    shutil.copy(BAD / "front-matter-bomb.md", root / "fm-bomb.md")
    (root / "link.md").symlink_to(outside / "secret.md")
    (root / "linked-dir").symlink_to(outside / "dir", target_is_directory=True)
    (root / "huge.md").write_text("# Huge\n\n" + "padding " * LIMIT)
    (root / "gone.md").write_text("# Gone\n\nremoved between discovery and reading\n")
    os.mkfifo(root / "pipe.md")
    return root


def _vanish_gone_md(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, gone.md is deleted right after discovery finds it, before it is read."""
    real = load.discover

    def discover(sources: list[Path], *rest: Any) -> Iterator[tuple[Path, Path]]:
        for root, path in real(sources, *rest):
            if path.name == "gone.md":
                path.unlink()
            yield root, path

    monkeypatch.setattr(load, "discover", discover)


@pytest.fixture
def vanishing(monkeypatch: pytest.MonkeyPatch) -> None:
    _vanish_gone_md(monkeypatch)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path the code under test opens, by any of the ways Python opens files."""
    seen: list[Path] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: object, *args: object, **kwargs: object) -> object:
        if isinstance(file, str | os.PathLike):
            seen.append(Path(os.fspath(file)))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    def spy_os_open(path: object, *args: object, **kwargs: object) -> int:
        seen.append(Path(os.fspath(path)))  # type: ignore[arg-type]
        return real_os_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return seen


def test_each_bad_file_gets_its_reason_and_the_rest_loads(tmp_path: Path, vanishing: None,
                                                          opened: list[Path]) -> None:
    root = _corpus(tmp_path)
    opened.clear()  # writing the corpus is not the code under test
    result = load_documents([root], LIMIT)
    assert sorted(d.source for d in result.documents) == ["docs/snippets.md", "fm-bomb.md", "good.md", "paper.pdf"]
    assert {s.path: s.reason for s in result.skipped} == EXPECTED_SKIPS
    details = {s.path: s.detail for s in result.skipped}
    assert "PdfStreamError" in details["broken.pdf"] or "not a readable PDF" in details["broken.pdf"]
    assert "NUL bytes" in details["logo.html"] and "HTML" in details["logo.html"]
    assert "billion laughs" in details["template.yaml"] and "over the 100,000 limit" in details["template.yaml"]
    assert str(tmp_path / "outside" / "secret.md") in details["link.md"]
    assert "20,000-byte limit (KB_MAX_FILE_BYTES)" in details["huge.md"]
    assert "removed after it was found" in details["gone.md"]
    assert "not a regular file" in details["pipe.md"]
    assert all("\n" not in s.detail for s in result.skipped), "one line each"

    notices = [str(n) for n in result.notices]
    for wanted in ("../../etc/passwd", "../outside/secret.md", "/etc/hostname"):
        assert any(f"snippet {wanted!r} points outside the source root" in n for n in notices), (wanted, notices)
    assert any(n.startswith("fm-bomb.md:1: front matter ignored: YAML aliases expand") for n in notices), notices

    for doc in result.documents:
        assert SECRET not in doc.body and not any(SECRET in text for text in doc.includes.values())
    snippets = next(d for d in result.documents if d.source == "docs/snippets.md")
    assert snippets.includes == {}
    outside = [p for p in opened if not p.resolve().is_relative_to(root.resolve())]
    assert outside == [], f"opened outside the source root: {outside}"
    assert any(p.name == "good.md" for p in opened), "the spy sees the reads"


def test_the_report_and_explain_show_the_reasons(tmp_path: Path, vanishing: None) -> None:
    root = _corpus(tmp_path)
    settings = Settings(sources=[root], index_dir=tmp_path / "index", max_file_bytes=LIMIT,
                        embedding_model="test:hashing", max_chunk_tokens=64, target_chunk_tokens=48,
                        _env_file=None)  # type: ignore[call-arg]
    report = ingest(settings, HashingEmbedder())
    assert {s.path: s.reason for s in report.skipped} == EXPECTED_SKIPS
    assert report.documents_changed == 4 and report.chunks_added > 0
    sources = {m["source"] for m in IndexStore.open(settings, "test:hashing").all_metadata()}
    assert sources == {"docs/snippets.md", "fm-bomb.md", "good.md", "paper.pdf"}

    out, err = io.StringIO(), io.StringIO()
    print_report(report, True, Console(file=out, width=200), Console(file=err, width=200))
    explained = out.getvalue()
    assert f"skipped (not ingested): {len(EXPECTED_SKIPS)} files" in explained
    for path, reason in EXPECTED_SKIPS.items():
        assert f"  {reason}\n" in explained and f"{path}: " in explained
    warned = err.getvalue().splitlines()
    assert sum(line.startswith("skipped: ") for line in warned) == len(EXPECTED_SKIPS)
    assert any("points outside the source root" in line for line in warned)


def test_a_file_that_vanishes_keeps_its_last_indexed_version(settings: Settings, embedder: HashingEmbedder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    kb = settings.sources[0]
    (kb / "keep.md").write_text("# Keep\n\nThis one stays.\n")
    (kb / "gone.md").write_text("# Gone\n\nIndexed once, then removed mid-ingest.\n")
    first = ingest(settings, embedder)
    assert first.documents_changed == 2
    _vanish_gone_md(monkeypatch)
    second = ingest(settings, embedder)
    assert [(s.path, s.reason) for s in second.skipped] == [("gone.md", "vanished")]
    assert second.documents_removed == 0 and second.chunks_deleted == 0
    assert "kb:gone.md" in IndexStore.open(settings, embedder.name).manifest()
