"""Ingest progress: an ETA from the rate so far; without a terminal, a plain line now and then."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from core.settings import Settings
from ingest.load import load_documents
from ingest.pipeline import ingest
from ingest.progress import BarProgress, PlainProgress, eta_seconds, progress_for
from tests.fakes import HashingEmbedder


def test_eta_is_the_time_left_at_the_rate_so_far() -> None:
    assert eta_seconds(25, 100, 10.0) == 30.0
    assert eta_seconds(0, 100, 5.0) is None and eta_seconds(100, 100, 5.0) is None


def test_plain_progress_prints_a_line_every_interval_and_the_last() -> None:
    now = [0.0]
    buffer = io.StringIO()
    plain = PlainProgress(Console(file=buffer, width=200), every=10, clock=lambda: now[0])
    for done in range(0, 101, 5):  # one step a second
        now[0] = done / 5
        plain("embedding", done, 100)
    lines = buffer.getvalue().splitlines()
    assert lines == ["embedding 50/100 chunks (50%), 10 s, about 10 s left",
                     "embedding 100/100 chunks (100%), 20 s"]


def test_progress_is_a_bar_only_on_a_terminal() -> None:
    assert isinstance(progress_for(Console(file=io.StringIO())), PlainProgress)
    assert isinstance(progress_for(Console(file=io.StringIO(), force_terminal=True)), BarProgress)


def test_ingest_reports_every_stage(settings: Settings, embedder: HashingEmbedder) -> None:
    for i in range(3):
        (settings.sources[0] / f"n{i}.md").write_text(f"# Note {i}\n\nRetries for queue {i} back off.\n")
    seen: list[tuple[str, int, int]] = []
    report = ingest(settings, embedder, progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [s for s, _, _ in seen]
    assert stages[:3] == ["reading"] * 3 and seen[2] == ("reading", 3, 3)
    assert ("chunking", 3, 3) in seen and seen[-1] == ("writing", report.chunks_added, report.chunks_added)
    assert stages.index("chunking") < stages.index("embedding") < stages.index("writing")
    assert report.files_read == 3 and report.load_seconds > 0 and report.chunk_seconds > 0


def test_loading_counts_files_against_all_found(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"d{i}.md").write_text(f"# D{i}\n\ntext\n")
    seen: list[tuple[int, int]] = []
    load_documents([tmp_path], 10_000, lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
