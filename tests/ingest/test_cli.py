"""The `kb` command as a user runs it, in a real process: ingest and stats end to end, exit codes, JSON
output. Usage and environment errors are tested in-process (tests/app/test_cli.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.pipeline import ingest
from tests.conftest import FIXTURES, ROOT
from tests.fakes import HashingEmbedder

KB = Path(sys.executable).parent / "kb"


def kb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([str(KB), *args], cwd=ROOT, capture_output=True, text=True, env=full_env, timeout=300)


def test_missing_source_folder_exits_2_with_one_line(tmp_path: Path) -> None:
    result = kb("ingest", "--source", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


@pytest.mark.integration
def test_ingest_json_then_stats_json(tmp_path: Path) -> None:
    source = tmp_path / "docs"
    shutil.copytree(FIXTURES / "docs", source)
    (source / "binary.md").write_bytes(b"\x00\x01\x02")
    first = kb("ingest", "--source", str(source), "--index", str(tmp_path / "idx"), "--json", "--explain")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["documents_seen"] == 8 and report["documents_skipped"] == 1
    assert report["skipped"][0]["reason"] == "binary" and report["excluded"]
    second = json.loads(kb("ingest", "--source", str(source), "--index", str(tmp_path / "idx"), "--json").stdout)
    assert second["chunks_added"] == 0 and second["model_loaded"] is False
    stats = json.loads(kb("stats", "--index", str(tmp_path / "idx"), "--json").stdout)
    assert stats["documents"] == 7 and stats["chunks"] == report["chunks_added"]
    assert stats["chunks_by_kind"]["template"] == 2 and stats["dimension"] == 384
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = kb("ingest", "--source", str(empty), "--index", str(tmp_path / "idx"))
    assert refused.returncode == 2 and refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "would remove 7 of the 7 indexed documents" in refused.stderr and "--prune" in refused.stderr
    plan = kb("ingest", "--source", str(empty), "--index", str(tmp_path / "idx"), "--dry-run")
    assert plan.returncode == 0 and "would remove docs:table.md" in plan.stdout, plan.stderr
    assert "without --prune, this ingest would remove 7" in plan.stderr
    assert json.loads(kb("stats", "--index", str(tmp_path / "idx"), "--json").stdout)["documents"] == 7
    batch = tmp_path / "questions.txt"
    batch.write_bytes(b"How should a table of limits be read?\n\xff\xfe broken\n" + b"x" * 5000 + b"\nWhat is a DLQ?\n")
    asked = kb("ask", "--batch", str(batch), "--index", str(tmp_path / "idx"), "--json")
    rows = [json.loads(line) for line in asked.stdout.splitlines()]
    assert asked.returncode == 1 and len(rows) == 4, asked.stderr
    assert [r.get("line") for r in rows] == [None, 2, 3, None] and "not UTF-8" in rows[1]["error"]
    assert "limit" in rows[2]["error"] and rows[3]["question"] == "What is a DLQ?"


def test_ingest_against_a_real_chroma_server(settings: Settings, chroma_server: str) -> None:
    for name in ("table.md", "code-comments.md"):
        shutil.copy(FIXTURES / "docs" / name, settings.sources[0] / name)
    remote = settings.model_copy(update={"chroma_url": chroma_server, "collection": "server-test"})
    report = ingest(remote, HashingEmbedder())
    assert report.documents_changed == 2 and report.chunks_added > 3
    assert ingest(remote, HashingEmbedder()).chunks_added == 0
    result = kb("stats", "--json", env={"KB_CHROMA_URL": chroma_server, "KB_COLLECTION": "server-test"})
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["index"] == chroma_server and stats["documents"] == 2
    assert stats["chunks"] == report.chunks_added and not (settings.index_dir / "chroma").exists()


def test_bad_chroma_url_is_a_clear_error(tmp_path: Path) -> None:
    result = kb("stats", env={"KB_CHROMA_URL": "ftp://example"})
    assert result.returncode != 0 and "is not an http(s) URL" in result.stderr


def test_stats_without_an_index_says_what_to_run(tmp_path: Path) -> None:
    result = kb("stats", "--index", str(tmp_path / "none"))
    assert result.returncode == 2 and "run `kb ingest` first" in result.stderr


@pytest.mark.integration
def test_ingest_include_and_exclude_flags(tmp_path: Path) -> None:
    source = tmp_path / "repo"
    shutil.copytree(FIXTURES / "repo", source)
    result = kb("ingest", "--source", str(source), "--index", str(tmp_path / "idx"), "--exclude", "*.tf",
                "--exclude", "nightly-report/**", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["left_out"]["matched --exclude / KB_EXCLUDE"] == 4
    only = kb("ingest", "--source", str(source), "--index", str(tmp_path / "idx"), "--dry-run", "--json",
              env={"KB_INCLUDE": "orders-queue/**"})
    assert json.loads(only.stdout)["left_out"]["not matched by --include / KB_INCLUDE"] >= 6
