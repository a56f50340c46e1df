"""Dense search on a real Chroma server: the same chunks as the snapshot's exact search, only the
snapshot's chunks, and the exact search whenever the server cannot answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.persona import load_persona
from bot.retrieve import Filters, HybridRetriever
from bot.server_dense import ServerDense
from bot.snapshot import Snapshot, load_snapshot
from core.settings import Settings
from ingest.pipeline import ingest
from tests.chaos.conftest import hashing_settings
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.integration

QUESTIONS = ["how many attempts before a message goes to the dead-letter queue",
             "retry with exponential backoff and jitter", "what does a template for the queue look like"]


def _served(tmp_path: Path, chroma_server: str, collection: str) -> tuple[Settings, Snapshot]:
    settings = hashing_settings(tmp_path, chroma_url=chroma_server, collection=collection)
    ingest(settings, HashingEmbedder())
    return settings, load_snapshot(settings, HashingEmbedder(), load_persona(settings.persona))


def _exact(snapshot: Snapshot) -> HybridRetriever:
    return HybridRetriever(snapshot.corpus, HashingEmbedder(), snapshot.retriever.settings)


def _rows(retriever: HybridRetriever, question: str, filters: Filters = Filters(), n: int = 8) -> list[int]:
    return [row for row, _ in retriever.dense(retriever.embed_query(question), n, filters)]


def test_the_server_finds_what_the_exact_search_finds(tmp_path: Path, chroma_server: str) -> None:
    _, snapshot = _served(tmp_path, chroma_server, "dense-same")
    server = snapshot.retriever.server
    assert isinstance(server, ServerDense)
    exact = _exact(snapshot)
    for question in QUESTIONS:
        assert _rows(snapshot.retriever, question) == _rows(exact, question)
        templates = Filters(kind="template")
        assert _rows(snapshot.retriever, question, templates, 3) == _rows(exact, question, templates, 3)
    assert server.searches == 2 * len(QUESTIONS) and not server.error
    persona = [row for row, meta in enumerate(snapshot.corpus.metas) if meta["doc_kind"] == "persona"]
    assert not set(persona) & set(_rows(snapshot.retriever, "who are you", n=len(snapshot.corpus)))


def test_chunks_written_after_the_snapshot_stay_out(tmp_path: Path, chroma_server: str) -> None:
    settings, snapshot = _served(tmp_path, chroma_server, "dense-newer")
    new = settings.sources[0] / "patterns" / "fresh-topic.md"
    new.write_text(next(settings.sources[0].rglob("retry-queues.md")).read_text().replace(
        "title: ", "title: Fresh copy of ", 1))
    ingest(settings, HashingEmbedder())
    server = snapshot.retriever.server
    assert isinstance(server, ServerDense)
    before = server.searches
    rows = _rows(snapshot.retriever, QUESTIONS[0], n=len(snapshot.corpus))
    assert server.searches == before + 1, "the server did not answer"
    assert all(snapshot.corpus.metas[row]["source"] != "patterns/fresh-topic.md" for row in rows)
    assert len(rows) == len(set(rows))


def test_a_dropped_generation_falls_back_to_the_exact_search(tmp_path: Path, chroma_server: str) -> None:
    settings, snapshot = _served(tmp_path, chroma_server, "dense-rebuilt")
    ingest(settings, HashingEmbedder(), rebuild=True)  # publishes generation 1 and drops generation 0
    server = snapshot.retriever.server
    assert isinstance(server, ServerDense)
    assert _rows(snapshot.retriever, QUESTIONS[1]) == _rows(_exact(snapshot), QUESTIONS[1])
    assert server.error, "the old generation is gone, so the server cannot have answered"


def test_an_unreachable_server_falls_back_to_the_exact_search(tmp_path: Path, chroma_server: str) -> None:
    settings, snapshot = _served(tmp_path, chroma_server, "dense-gone")
    gone = ServerDense(settings.model_copy(update={"chroma_url": "http://127.0.0.1:1"}), snapshot.head,
                       snapshot.corpus.row)
    retriever = HybridRetriever(snapshot.corpus, HashingEmbedder(), snapshot.retriever.settings, gone)
    assert _rows(retriever, QUESTIONS[2]) == _rows(_exact(snapshot), QUESTIONS[2])
    assert gone.searches == 0 and "127.0.0.1:1" in gone.error


def test_without_a_server_or_when_turned_off_the_snapshot_searches(tmp_path: Path, chroma_server: str) -> None:
    settings = hashing_settings(tmp_path)
    ingest(settings, HashingEmbedder())
    assert load_snapshot(settings, HashingEmbedder(), load_persona(settings.persona)).retriever.server is None
    remote = hashing_settings(tmp_path / "remote", chroma_url=chroma_server, collection="dense-off")
    remote = remote.updated(retrieve=remote.retrieve.model_copy(update={"server_dense": False}))
    ingest(remote, HashingEmbedder())
    assert load_snapshot(remote, HashingEmbedder(), load_persona(remote.persona)).retriever.server is None
