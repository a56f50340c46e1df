"""A process killed at any point during ingest leaves an index the next ingest repairs exactly."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.pipeline import ingest
from tests.conftest import FIXTURES, ROOT
from tests.fakes import HashingEmbedder
from tests.ingest.test_pipeline import snapshot

DOCS = FIXTURES / "docs"


def _run(settings: Settings, kill_at: int) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "tests.ingest.kill_ingest", str(settings.index_dir),
            str(settings.sources[0]), str(settings.ingest.exclude_rules), str(kill_at)]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _second_version(kb: Path) -> None:
    """Edits that exercise every write: change, remove, add."""
    (kb / "agent.md").unlink()
    shutil.copy(DOCS / "huge-section.md", kb / "huge.md")
    table = kb / "table.md"
    table.write_text(table.read_text().replace("Pick the runtime", "Choose the runtime"))


@pytest.fixture
def prepared(settings: Settings, tmp_path: Path) -> tuple[Settings, dict[str, object], int]:
    kb = settings.sources[0]
    for name in ("table.md", "code-comments.md", "agent.md"):
        shutil.copy(DOCS / name, kb / name)
    ingest(settings, HashingEmbedder())
    _second_version(kb)
    clean = settings.model_copy(update={"index_dir": tmp_path / "clean"})
    ingest(clean, HashingEmbedder())
    probe = settings.model_copy(update={"index_dir": tmp_path / "probe"})
    shutil.copytree(settings.index_dir, probe.index_dir)
    writes = int(_run(probe, 0).stdout.strip())
    return settings, snapshot(clean), writes


@pytest.mark.integration
def test_killed_ingest_is_repaired_by_the_next_run(prepared: tuple[Settings, dict[str, object], int],
                                                   tmp_path: Path) -> None:
    settings, expected, writes = prepared
    assert writes >= 5, "pending marks, chunk writes, metadata updates, deletes and done marks"
    for kill_at in range(1, writes + 1):
        attempt = settings.model_copy(update={"index_dir": tmp_path / f"kill-{kill_at}"})
        shutil.copytree(settings.index_dir, attempt.index_dir)
        killed = _run(attempt, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        ingest(attempt, HashingEmbedder())
        assert snapshot(attempt) == expected, f"state differs after a kill before write {kill_at}"
