"""Synthetic corpora for the benchmark: rewritten, never exact copies, and built only once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals import synthetic
from evals.synthetic import Rewriter, build_index, perturb, rewrite_documents, rewrite_spans
from ingest.index import IndexStore
from ingest.load import load_documents
from ingest.pipeline import ingest
from tests.chaos.conftest import hashing_settings
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder

TEXT = "Retry the failed message later. Queues keep every message until a consumer deletes it."


def test_copies_substitute_words_deterministically_and_keep_sentence_spans() -> None:
    rewriter = Rewriter([TEXT, "consumers queues messages retries deletes later"], seed=3)
    first, again, other = rewriter.mapping(1), rewriter.mapping(1), rewriter.mapping(2)
    assert first == again and first != other and first
    spans = [(0, 31), (32, len(TEXT))]
    text, moved = rewrite_spans(TEXT, spans, {"message": "payload", "queues": "topics", "retry": "resend"})
    assert text == "Resend the failed payload later. Topics keep every payload until a consumer deletes it."
    assert [text[a:b] for a, b in moved] == [Rewriter.apply(TEXT[a:b], {"message": "payload", "queues": "topics",
                                                                           "retry": "resend"}) for a, b in spans]


def test_perturbed_vectors_stay_unit_and_near() -> None:
    vectors = np.eye(4, 16, dtype=np.float32)
    moved = perturb(vectors, np.random.default_rng(1))
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(moved * vectors, axis=1)
    assert np.all(cosines > 0.8) and np.all(cosines < 0.99)


def test_rewritten_documents_keep_front_matter_and_load(tmp_path: Path) -> None:
    written = rewrite_documents(ROOT / "kb", tmp_path, copies=2)
    originals = sorted((ROOT / "kb").glob("patterns/*/*.md"))
    assert len(written) == 2 * (len(originals) + len(list((ROOT / "kb" / "reference").glob("*.md"))))
    copy = tmp_path / "c001" / originals[0].relative_to(ROOT / "kb")
    original, rewritten = originals[0].read_text(), copy.read_text()
    assert rewritten != original and rewritten.split("\n---\n")[0] == original.split("\n---\n")[0]
    loaded = load_documents([tmp_path], 5_000_000)
    assert len(loaded.documents) == len(written) and not loaded.skipped


def test_the_index_is_built_once_with_rewritten_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = hashing_settings(tmp_path / "kb-index")
    ingest(settings, HashingEmbedder())
    store = IndexStore.open(settings, "test:hashing")
    source = store.chunks().get(include=["documents"])
    documents = len(store.manifest())
    store.close()
    big = build_index(settings, tmp_path / "bench", total=3 * len(source["ids"]))
    store = IndexStore.open(big, "test:hashing")
    got = store.chunks().get(include=["documents", "metadatas", "embeddings"])
    assert len(got["ids"]) >= 3 * len(source["ids"]) and len(store.manifest()) > 2 * documents
    assert store.head().ready and store.head().version == 1
    store.close()
    texts = set(source["documents"])
    copies = [t for i, t in zip(got["ids"], got["documents"], strict=True) if "~" in i]
    assert sum(t in texts for t in copies) < len(copies) / 2, "copies are rewritten, not duplicated"
    assert np.allclose(np.linalg.norm(np.asarray(got["embeddings"]), axis=1), 1.0, atol=1e-3)
    assert all(m["parent_id"].endswith(i.split("~")[1]) for i, m in zip(got["ids"], got["metadatas"], strict=True)
               if "~" in i and m.get("parent_id"))
    assert json.loads((big.index_dir / "built.json").read_text())["total"] == 3 * len(source["ids"])

    def no_rebuild(*args: object) -> None:
        raise AssertionError("rebuilt although the source index did not change")

    monkeypatch.setattr(synthetic, "_write", no_rebuild)
    assert build_index(settings, tmp_path / "bench", total=3 * len(source["ids"])).index_dir == big.index_dir
