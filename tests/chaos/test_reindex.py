"""A server keeps answering while other processes ingest into its index, and serves what they wrote."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from bot.chain import Bot, load_bot
from core.settings import Settings
from ingest.pipeline import ingest
from tests.chaos.conftest import Clients, ask, hashing_settings, health, run_ingest, serving, wait_for
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.integration

NEW_DOC = """---
id: quokka-ledger
title: Quokka ledger key rotation
category: security
providers: [aws]
tags: [quokka, rotation]
---

# Quokka ledger key rotation

## Solution

Rotate the quokka ledger keys every thirty days with a scheduled rotation function.
The quokka ledger keeps the previous key readable for one day, so readers never fail during a rotation.
"""
NEW_QUESTION = "How often should I rotate the quokka ledger keys?"


def _cites(url: str, question: str, source: str) -> bool:
    status, body = ask(url, question)
    return status == 200 and any(c["source"] == source for c in body.get("citations", []))


def _new_source(base: Path) -> Path:
    folder = base / "new"
    (folder / "patterns").mkdir(parents=True)
    (folder / "patterns" / "quokka-ledger.md").write_text(NEW_DOC)
    return folder


def _served(settings: Settings) -> Bot:
    ingest(settings, HashingEmbedder())
    bot = load_bot(settings, HashingEmbedder())
    bot.watch(0.2)
    return bot


def _reindex_while_serving(settings: Settings, base: Path) -> None:
    bot = _served(settings)
    new = _new_source(base)
    with serving(bot) as url, Clients(url, 8) as clients:
        assert not _cites(url, NEW_QUESTION, "patterns/quokka-ledger.md")
        added = run_ingest(settings, sources=[*settings.sources, new])
        assert added.returncode == 0, added.stderr
        seconds = wait_for(lambda: _cites(url, NEW_QUESTION, "patterns/quokka-ledger.md"), 5,
                           "the new document is answered from")
        print(f"new document served {seconds:.2f} s after the ingest finished")
        version = health(url)[1]["index_version"]
        rebuilt = run_ingest(settings, "--rebuild", sources=[*settings.sources, new])
        assert rebuilt.returncode == 0, rebuilt.stderr
        wait_for(lambda: health(url)[1]["index_version"] > version, 5, "the rebuilt index is served")
        assert _cites(url, NEW_QUESTION, "patterns/quokka-ledger.md")
    bot.watcher.stop()  # type: ignore[union-attr]
    total = sum(clients.statuses.values())
    assert clients.failures == [] and total > 20, clients.statuses


def test_ingest_and_rebuild_while_serving_fail_no_request(tmp_path: Path) -> None:
    _reindex_while_serving(hashing_settings(tmp_path), tmp_path)


def test_ingest_and_rebuild_while_serving_from_a_chroma_server(tmp_path: Path, chroma_server: str) -> None:
    settings = hashing_settings(tmp_path, chroma_server, f"chaos-{uuid.uuid4().hex[:8]}")
    _reindex_while_serving(settings, tmp_path)


def test_health_turns_503_when_the_index_cannot_be_read_but_answers_go_on(tmp_path: Path) -> None:
    settings = hashing_settings(tmp_path)
    bot = _served(settings)
    with serving(bot) as url:
        assert health(url)[0] == 200
        shutil.rmtree(settings.chroma_dir)
        wait_for(lambda: health(url)[0] == 503, 5, "health reports the unreadable index")
        body = health(url)[1]
        assert body["status"] == "unavailable" and "run `kb ingest`" in body["error"]
        assert ask(url, "How do I keep latency-sensitive functions warm?")[0] == 200, "the snapshot still answers"
    bot.watcher.stop()  # type: ignore[union-attr]
