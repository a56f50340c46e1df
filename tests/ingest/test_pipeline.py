from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from filelock import FileLock

from core.errors import IndexLockedError, IndexMismatchError
from core.settings import Settings
from ingest.index import IndexStore
from ingest.pipeline import ingest
from ingest.sentences import decode_sentences
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder

DOCS = FIXTURES / "docs"


def _populate(settings: Settings, names: tuple[str, ...] = ("table.md", "code-comments.md", "agent.md")) -> Path:
    kb = settings.sources[0]
    for name in names:
        shutil.copy(DOCS / name, kb / name)
    return kb


def snapshot(settings: Settings, model: str = "test:hashing") -> dict[str, Any]:
    """Everything stored, for comparing an index with a clean build."""
    store = IndexStore.open(settings, model)
    got = store.chunks().get(include=["metadatas", "documents", "embeddings"])
    chunks = {
        i: (m, d, [round(float(x), 5) for x in e])
        for i, m, d, e in zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"], strict=True)
    }
    manifest = {k: (v.doc_hash, v.status, v.chunk_ids) for k, v in store.manifest().items()}
    return {"chunks": chunks, "manifest": manifest}


def test_first_ingest_then_noop(settings: Settings, embedder: HashingEmbedder) -> None:
    _populate(settings)
    first = ingest(settings, embedder)
    assert first.documents_changed == 3 and first.chunks_added > 5 and first.templates_added == 2
    assert {e.rule for e in first.excluded} >= {"commit-attribution", "quest-protocol"}
    embedder.embedded.clear()
    again = ingest(settings, embedder)
    assert again.documents_unchanged == 3 and again.chunks_added == 0 and again.chunks_deleted == 0
    assert not again.model_loaded and embedder.embedded == []


def test_editing_one_document_reembeds_only_its_new_chunks(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings)
    ingest(settings, embedder)
    before = snapshot(settings)
    path = kb / "table.md"
    path.write_text(path.read_text().replace("Pick the runtime your team knows.",
                                             "Pick the runtime your team can operate at 3 a.m."))
    embedder.embedded.clear()
    report = ingest(settings, embedder)
    assert report.documents_changed == 1 and report.chunks_added == 1 and report.chunks_deleted == 1
    assert len(embedder.embedded) == 1 and "3 a.m." in embedder.embedded[0]
    after = snapshot(settings)
    others = {i for i, (m, _, _) in before["chunks"].items() if m["source"] != "table.md"}
    assert all(before["chunks"][i] == after["chunks"][i] for i in others)


def test_inserting_lines_above_updates_line_numbers_without_reembedding(
        settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings, ("table.md",))
    ingest(settings, embedder)
    path = kb / "table.md"
    path.write_text(path.read_text().replace("# Runtime comparison\n", "# Runtime comparison\n\n\n"))
    embedder.embedded.clear()
    report = ingest(settings, embedder)
    assert report.chunks_added == 0 and embedder.embedded == []
    lines = [m["start_line"] for m, _, _ in snapshot(settings)["chunks"].values()]
    assert min(lines) == 7


def test_deleting_a_document_removes_its_chunks(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings)
    ingest(settings, embedder)
    (kb / "code-comments.md").unlink()
    report = ingest(settings, embedder)
    assert report.documents_removed == 1 and report.chunks_deleted >= 3
    state = snapshot(settings)
    assert {m["source"] for m, _, _ in state["chunks"].values()} == {"table.md", "agent.md"}
    assert set(state["manifest"]) == {"kb:table.md", "kb:agent.md"}


def test_a_file_that_turns_bad_keeps_its_last_good_version(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings, ("table.md",))
    ingest(settings, embedder)
    before = snapshot(settings)
    (kb / "table.md").write_bytes(b"\xff\xfe broken \x00")
    report = ingest(settings, embedder)
    assert [s.reason for s in report.skipped] == ["binary"]
    assert snapshot(settings) == before


def test_incremental_result_equals_a_clean_build(settings: Settings, embedder: HashingEmbedder,
                                                 tmp_path: Path) -> None:
    kb = _populate(settings)
    ingest(settings, embedder)
    (kb / "agent.md").unlink()
    shutil.copy(DOCS / "huge-section.md", kb / "huge.md")
    (kb / "table.md").write_text((kb / "table.md").read_text() + "\nA new closing line.\n")
    ingest(settings, embedder)
    clean = settings.model_copy(update={"index_dir": tmp_path / "clean"})
    ingest(clean, HashingEmbedder())
    assert snapshot(settings) == snapshot(clean)


def test_other_model_is_refused_until_rebuild(settings: Settings, embedder: HashingEmbedder) -> None:
    _populate(settings, ("table.md",))
    ingest(settings, embedder)
    other = HashingEmbedder(dimension=32, name="test:other")
    with pytest.raises(IndexMismatchError, match="kb ingest --rebuild"):
        ingest(settings, other)
    report = ingest(settings, other, rebuild=True)
    assert report.documents_changed == 1
    assert IndexStore.open(settings, "test:other").info()["dimension"] == 32


def test_second_ingest_fails_fast_while_the_lock_is_held(settings: Settings, embedder: HashingEmbedder) -> None:
    settings.index_dir.mkdir(parents=True)
    with FileLock(str(settings.lock_file)), pytest.raises(IndexLockedError, match="another `kb ingest`"):
        ingest(settings, embedder)


def test_files_listed_in_rules_are_not_indexed(settings: Settings, embedder: HashingEmbedder) -> None:
    _populate(settings, ("table.md",))
    (settings.sources[0] / "README.md").write_text("# How to write documents\n\nAdd a file.\n")
    rules = settings.sources[0] / "exclude.yaml"
    rules.write_text("files: [README.md]\nrules: []\n")
    report = ingest(settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"exclude_rules": rules})}),
                    embedder)
    assert report.documents_changed == 1
    assert [(e.source, e.rule) for e in report.excluded] == [("README.md", "files")]


def test_files_listed_in_rules_apply_only_to_the_rules_folder(settings: Settings, embedder: HashingEmbedder,
                                                              tmp_path: Path) -> None:
    """kb/exclude.yaml leaves out kb/README.md (about the knowledge base), not a repository's README."""
    _populate(settings, ("table.md",))
    (settings.sources[0] / "README.md").write_text("# How to write documents\n\nAdd a file.\n")
    (settings.sources[0] / "exclude.yaml").write_text("files: [README.md]\nrules: []\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# Orders service\n\nThe orders queue feeds one Lambda consumer.\n")
    local = settings.model_copy(update={
        "sources": [settings.sources[0], repo],
        "ingest": settings.ingest.model_copy(update={"exclude_rules": settings.sources[0] / "exclude.yaml"})})
    report = ingest(local, embedder)
    assert [(e.source, e.rule) for e in report.excluded if e.rule == "files"] == [("README.md", "files")]
    assert report.documents_changed == 2


def test_prose_sentences_are_stored_with_offsets_into_their_chunk(settings: Settings,
                                                                   embedder: HashingEmbedder) -> None:
    _populate(settings, ("table.md", "huge-section.md"))
    ingest(settings, embedder)
    state = snapshot(settings)
    total = 0
    for meta, text, _ in state["chunks"].values():
        if meta["kind"] == "template":
            assert "sentences" not in meta, "code is attached whole, never quoted line by line"
            continue
        if meta["kind"] == "table":
            continue  # rows, tested below
        spans, vectors = decode_sentences(meta, embedder.dimension)
        assert len(spans) == len(vectors) >= 1
        expected = embedder.embed([text[a:b] for a, b in spans])
        assert np.allclose(vectors, expected, atol=1e-2), "float16 vectors round-trip"
        total += len(spans)
    assert total > 20


def test_table_rows_are_stored_with_their_own_vectors(settings: Settings, embedder: HashingEmbedder) -> None:
    from ingest.tables import row_spans

    (settings.sources[0] / "limits.md").write_text(
        "# Limits\n\n## Queue limits\n\n| Limit | Value |\n|---|---|\n| Message retention | 1 minute to 14 days |\n"
        "| Visibility timeout | 0 seconds to 12 hours |\n| Maximum message size | 1 MiB |\n")
    ingest(settings, embedder)
    got = IndexStore.open(settings, embedder.name).chunks().get(include=["metadatas", "documents"])
    (meta, text), = [(m, d) for m, d in zip(got["metadatas"], got["documents"], strict=True) if m["kind"] == "table"]
    spans, vectors = decode_sentences(meta, embedder.dimension)
    first = spans[0]
    assert spans == row_spans(text) and text[first[0]:first[1]] == "| Message retention | 1 minute to 14 days |"
    assert vectors.shape == (3, embedder.dimension) and not np.allclose(vectors[0], vectors[1])


def test_rows_past_the_model_window_get_vectors_of_their_own(settings: Settings, embedder: HashingEmbedder) -> None:
    """A table is one chunk however long; the model sees its first max_tokens tokens only. A late row
    is embedded again after the table's heading and header, not left to the whole table's vector."""
    rows = "".join(f"| Setting number {i} | {i} to {i * 10} seconds |\n" for i in range(1, 21))
    table = f"| Limit | Value |\n|---|---|\n{rows}"
    (settings.sources[0] / "limits.md").write_text(f"# Limits\n\n## Many limits\n\n{table}")
    ingest(settings, embedder)
    got = IndexStore.open(settings, embedder.name).chunks().get(include=["metadatas", "documents"])
    (meta, text), = [(m, d) for m, d in zip(got["metadatas"], got["documents"], strict=True) if m["kind"] == "table"]
    assert embedder.count_tokens([text])[0] > 3 * embedder.max_tokens, "most rows lie past the window"
    spans, vectors = decode_sentences(meta, embedder.dimension)
    assert len(spans) == 20, "every row is stored, none dropped"
    last = embedder.embed([text[spans[-1][0]:spans[-1][1]]])[0]
    assert np.allclose(vectors[-1], last, atol=1e-2), "the last row's own vector, not the table's"


def test_a_new_chunk_format_re_embeds_unchanged_text(settings: Settings, embedder: HashingEmbedder,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import chunk, pipeline

    (settings.sources[0] / "queues.md").write_text("# Queues\n\n## Retries\n\nA queue retries a failed message.\n")
    ingest(settings, embedder)
    before = set(IndexStore.open(settings, embedder.name).chunks().get(include=[])["ids"])
    embedder.embedded.clear()
    monkeypatch.setattr(chunk, "CHUNK_FORMAT", "test-next")
    monkeypatch.setattr(pipeline, "CHUNK_FORMAT", "test-next")
    ingest(settings, embedder)
    after = set(IndexStore.open(settings, embedder.name).chunks().get(include=[])["ids"])
    assert before and not before & after, "every chunk is stored again, under a new id"
    assert len(embedder.embedded) >= len(after), "and embedded again (its stored vectors follow the format)"
