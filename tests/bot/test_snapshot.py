"""Saved snapshots: a new process loads the published version from local files, never a stale one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bot.snapshot as snapshot_module
from bot.persona import load_persona
from bot.snapshot import load_snapshot
from core.errors import IndexMismatchError
from ingest.index import IndexStore, peek_head
from ingest.pipeline import ingest
from tests.chaos.conftest import hashing_settings
from tests.fakes import HashingEmbedder


def _no_chroma(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma was opened although the saved snapshot is current")

    monkeypatch.setattr(IndexStore, "open", refuse)


def test_peek_head_agrees_with_chroma(tmp_path: Path) -> None:
    settings = hashing_settings(tmp_path)
    assert peek_head(settings) is None, "no index yet"
    ingest(settings, HashingEmbedder())
    peeked = peek_head(settings)
    assert peeked is not None and peeked[1] == IndexStore.open(settings, "test:hashing").head()
    ingest(settings, HashingEmbedder(), rebuild=True)
    again = peek_head(settings)
    assert again is not None and again[1].generation == 1 and again[0] != peeked[0]
    assert peek_head(settings.model_copy(update={"chroma_url": "http://127.0.0.1:1"})) is None


def test_a_second_load_comes_from_the_saved_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = hashing_settings(tmp_path)
    ingest(settings, HashingEmbedder())
    persona = load_persona(settings.persona)
    first = load_snapshot(settings, HashingEmbedder(), persona)
    _no_chroma(monkeypatch)
    second = load_snapshot(settings, HashingEmbedder(), persona)
    assert second.head == first.head and second.corpus.ids == first.corpus.ids
    assert second.corpus.texts == first.corpus.texts and second.corpus.metas == first.corpus.metas
    assert np.allclose(second.corpus.vectors, first.corpus.vectors)
    assert second.corpus.sentences == first.corpus.sentences
    assert np.allclose(second.corpus.sentence_vectors, first.corpus.sentence_vectors)


def test_a_new_version_is_never_served_from_old_files(tmp_path: Path) -> None:
    settings = hashing_settings(tmp_path)
    ingest(settings, HashingEmbedder())
    persona = load_persona(settings.persona)
    load_snapshot(settings, HashingEmbedder(), persona)
    doc = next(settings.sources[0].rglob("retry-queues.md"))
    doc.write_text(doc.read_text().replace("capped at five attempts", "capped at seven attempts"))
    ingest(settings, HashingEmbedder())
    fresh = load_snapshot(settings, HashingEmbedder(), persona)
    assert fresh.version == 2 and any("seven attempts" in text for text in fresh.corpus.texts)


def test_another_model_does_not_use_the_saved_files(tmp_path: Path) -> None:
    settings = hashing_settings(tmp_path)
    ingest(settings, HashingEmbedder())
    persona = load_persona(settings.persona)
    load_snapshot(settings, HashingEmbedder(), persona)
    with pytest.raises(IndexMismatchError):
        load_snapshot(settings, HashingEmbedder(name="test:other"), persona)


@pytest.mark.integration
def test_replicas_of_a_chroma_server_share_one_saved_snapshot(tmp_path: Path, chroma_server: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The first replica reads the corpus from the server and saves it; the next ones (same index
    folder) map those files instead of pulling every chunk again, until the server's version moves."""
    settings = hashing_settings(tmp_path, chroma_url=chroma_server, collection="replicas")
    ingest(settings, HashingEmbedder())
    persona = load_persona(settings.persona)
    first = load_snapshot(settings, HashingEmbedder(), persona)
    pulls: list[int] = []
    original = snapshot_module.load_corpus

    def counting(*args: Any, **kwargs: Any) -> Any:
        pulls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(snapshot_module, "load_corpus", counting)
    second = load_snapshot(settings, HashingEmbedder(), persona)
    assert not pulls, "the second replica pulled the whole corpus from the server"
    assert second.head == first.head and second.corpus.ids == first.corpus.ids
    assert np.allclose(second.corpus.vectors, first.corpus.vectors)
    doc = next(settings.sources[0].rglob("retry-queues.md"))
    doc.write_text(doc.read_text().replace("capped at five attempts", "capped at seven attempts"))
    ingest(settings, HashingEmbedder())
    fresh = load_snapshot(settings, HashingEmbedder(), persona)
    assert pulls == [1] and fresh.version == first.version + 1
    assert any("seven attempts" in text for text in fresh.corpus.texts)
