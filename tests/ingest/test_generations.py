"""Index generations: a rebuild is written beside the live index and replaces it in one step."""

from __future__ import annotations

import pytest

from core.settings import Settings
from ingest.index import IndexStore
from ingest.pipeline import ingest
from tests.fakes import HashingEmbedder
from tests.ingest.test_pipeline import _populate, snapshot


class FailingEmbedder(HashingEmbedder):
    def embed_with_spans(self, texts, spans):  # type: ignore[no-untyped-def]
        raise RuntimeError("the model crashed half-way")


def _collections(settings: Settings) -> set[str]:
    return {c.name for c in IndexStore.open(settings, "test:hashing").client.list_collections()}


def test_versions_grow_only_when_something_changed(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings)
    assert ingest(settings, embedder).index_version == 1
    assert ingest(settings, embedder).index_version == 1, "a no-op ingest publishes nothing"
    (kb / "agent.md").unlink()
    assert ingest(settings, embedder).index_version == 2
    head = IndexStore.open(settings, embedder.name).head()
    assert head.ready and head.generation == 0


def test_a_failed_rebuild_leaves_the_live_index_untouched(settings: Settings, embedder: HashingEmbedder) -> None:
    _populate(settings)
    ingest(settings, embedder)
    before = snapshot(settings)
    with pytest.raises(RuntimeError):
        ingest(settings, FailingEmbedder(), rebuild=True)
    store = IndexStore.open(settings, embedder.name)
    assert store.head().generation == 0 and store.head().ready
    assert snapshot(settings) == before
    report = ingest(settings, embedder, rebuild=True)
    assert report.index_version == 2 and store.head().generation == 1
    assert _collections(settings) == {"serverless-kb-g1", "serverless-kb-g1-manifest", "serverless-kb-head"}
    after = snapshot(settings)
    assert after["manifest"] == before["manifest"] and after["chunks"].keys() == before["chunks"].keys()
