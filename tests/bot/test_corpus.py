from __future__ import annotations

import shutil

import bm25s
import numpy as np
import pytest

from bot.corpus import load_corpus
from bot.text import TERMS_VERSION
from core.settings import Settings
from ingest.index import IndexStore
from ingest.pipeline import ingest
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder


def test_bm25_is_persisted_and_rebuilt_only_when_the_manifest_changes(settings: Settings,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    kb = settings.sources[0]
    for name in ("table.md", "code-comments.md"):
        shutil.copy(FIXTURES / "docs" / name, kb / name)
    embedder = HashingEmbedder()
    ingest(settings, embedder)
    store = IndexStore.open(settings, embedder.name)
    first = load_corpus(store, settings.cache_dir)
    folders = list(settings.cache_dir.glob("bm25-*"))
    assert len(folders) == 1 and first.bm25 is not None

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("BM25 was rebuilt although nothing changed")

    with monkeypatch.context() as patch:
        patch.setattr(bm25s.BM25, "index", no_rebuild)
        again = load_corpus(store, settings.cache_dir)
    assert again.fingerprint == first.fingerprint and again.bm25 is not None
    (kb / "table.md").write_text((kb / "table.md").read_text() + "\nA new line about Zephyr throttles.\n")
    ingest(settings, embedder)
    changed = load_corpus(IndexStore.open(settings, embedder.name), settings.cache_dir)
    assert changed.fingerprint != first.fingerprint
    assert [f.name for f in settings.cache_dir.glob("bm25-*")] == [f"bm25-{changed.fingerprint}-{TERMS_VERSION}"]
    assert changed.bm25 is not None and "zephyr" in changed.bm25.vocab_dict


def test_one_path_in_two_sources_is_two_documents_and_code_links_within_its_source() -> None:
    from bot.corpus import Corpus
    from tests.bot.test_lead import EMBEDDER

    def meta(name: str, source: str, kind: str, doc_kind: str) -> dict[str, object]:
        return {"kind": kind, "source": source, "source_name": name, "doc_kind": doc_kind, "title": source,
                "section": source, "anchor": "a", "start_line": 1, "end_line": 2,
                "language": "yaml" if kind == "template" else "", "parent_id": ""}

    metas = [meta("orders", "README.md", "prose", "other"), meta("billing", "README.md", "prose", "other"),
             meta("billing", "template.yaml", "template", "code")]
    texts = ["Orders service readme.", "Billing service readme.", "Resources: {}"]
    corpus = Corpus(["a", "b", "c"], texts, metas, EMBEDDER.embed(texts), [], EMBEDDER.embed(["x"])[:0], "fp")
    assert len(corpus.doc_rows) == 3, "orders:README.md and billing:README.md are not one document"
    assert corpus.children.get(0, []) == [] and corpus.children[1] == [2], "billing's template joins billing's README"
    assert corpus.linked[2] == 1


def test_closeness_is_the_closer_of_a_chunks_vector_and_its_best_sentence(settings: Settings) -> None:
    """One product for many rows gives what row-by-row would: prose with sentences, templates without."""
    for name in ("table.md", "code-comments.md"):
        shutil.copy(FIXTURES / "docs" / name, settings.sources[0] / name)
    embedder = HashingEmbedder()
    ingest(settings, embedder)
    corpus = load_corpus(IndexStore.open(settings, embedder.name), settings.cache_dir)
    rows = list(range(len(corpus.ids)))
    assert any(not corpus.by_chunk.get(r) for r in rows) and any(corpus.by_chunk.get(r) for r in rows), \
        "the fixture needs chunks with and without sentences"
    vector = embedder.embed(["which limits apply to the queue and its messages?"])[0]
    expected = []
    for row in rows:
        whole = float(corpus.vectors[row] @ vector)
        best = corpus.closest_sentence(row, vector)
        expected.append(whole if best is None else max(whole, best))
    assert corpus.closeness(rows, vector).tolist() == pytest.approx(expected)
    given = [0.2] * len(rows)  # the caller's own whole-vector scores stand in for the chunks' vectors
    bests = [corpus.closest_sentence(row, vector) for row in rows]
    assert corpus.closeness(rows, vector, given).tolist() == pytest.approx(
        [0.2 if best is None else max(0.2, best) for best in bests])
    scores = np.full(len(rows), 0.2)
    corpus.closeness(rows, vector, scores)
    assert scores.tolist() == [0.2] * len(rows), "the caller's scores are read, not overwritten"
