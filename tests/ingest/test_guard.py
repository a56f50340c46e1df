"""No silent destruction: an ingest that would drop most of the index, or all a source gave, refuses."""

from __future__ import annotations

import pytest

from core.errors import DestructiveIngestError
from core.settings import Settings
from ingest.index import IndexStore
from ingest.pipeline import ingest
from tests.fakes import HashingEmbedder
from tests.ingest.test_pipeline import _populate, snapshot


def test_an_empty_source_folder_refuses_and_keeps_the_index(settings: Settings, embedder: HashingEmbedder,
                                                             tmp_path) -> None:  # type: ignore[no-untyped-def]
    _populate(settings)
    ingest(settings, embedder)
    before = snapshot(settings)
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = settings.model_copy(update={"sources": [empty]})
    with pytest.raises(DestructiveIngestError, match=r"remove 3 of the 3 indexed documents .*agent\.md.*"
                                                     r"has no documents.*--prune") as caught:
        ingest(wrong, embedder)
    assert caught.value.exit_code == 2
    with pytest.raises(DestructiveIngestError):
        ingest(wrong, embedder, rebuild=True)
    assert snapshot(settings) == before


def test_a_second_source_that_turns_up_empty_refuses(settings: Settings, embedder: HashingEmbedder,
                                                     tmp_path) -> None:  # type: ignore[no-untyped-def]
    _populate(settings, ("table.md", "code-comments.md", "agent.md"))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "one.md").write_text("# One\n\nA single extra note about queues and retries.\n")
    both = settings.model_copy(update={"sources": [settings.sources[0], extra]})
    ingest(both, embedder)
    (extra / "one.md").unlink()  # one of four documents: not "most", but all that folder gave
    with pytest.raises(DestructiveIngestError, match="extra has no documents"):
        ingest(both, embedder)
    assert ingest(both, embedder, prune=True).documents_removed == 1


def test_removing_a_few_documents_needs_no_flag(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings)
    ingest(settings, embedder)
    (kb / "agent.md").unlink()
    assert ingest(settings, embedder).removed == ["kb:agent.md"]


def test_removing_most_documents_needs_prune(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings)
    ingest(settings, embedder)
    (kb / "agent.md").unlink()
    (kb / "table.md").unlink()
    with pytest.raises(DestructiveIngestError, match="remove 2 of the 3 indexed documents"):
        ingest(settings, embedder)
    report = ingest(settings, embedder, prune=True)
    assert report.documents_removed == 2 and list(IndexStore.open(settings, embedder.name).manifest()) == [
        "kb:code-comments.md"]


def test_dry_run_prints_the_plan_and_writes_nothing(settings: Settings, embedder: HashingEmbedder) -> None:
    kb = _populate(settings)
    ingest(settings, embedder)
    before = snapshot(settings)
    (kb / "agent.md").unlink()
    (kb / "table.md").write_text((kb / "table.md").read_text() + "\nOne more sentence about limits.\n")
    embedder.embedded.clear()
    plan = ingest(settings, embedder, dry_run=True)
    assert plan.dry_run and plan.changed == ["kb:table.md"] and plan.removed == ["kb:agent.md"]
    assert snapshot(settings) == before and embedder.embedded == []
