"""Named sources reach answers: citations carry the source's name and `source_name` filters retrieval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.chain import Bot, load_bot
from bot.retrieve import Filters
from ingest.pipeline import ingest
from tests.conftest import FIXTURES, fixture_settings

QUESTION = "show me a SAM template for an SQS-triggered function with partial batch responses"


def test_filters_accept_by_source_name() -> None:
    meta = {"source": "README.md", "source_name": "orders", "doc_kind": "other", "kind": "prose"}
    assert Filters(source_name="orders").accepts(meta)
    assert not Filters(source_name="billing").accepts(meta)
    assert Filters().accepts(meta) and Filters(source="README.md", source_name="orders").accepts(meta)
    assert not Filters(source_name="orders").accepts({**meta, "source_name": ""}), "unnamed chunks are no match"


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory: pytest.TempPathFactory, bundled_embedder: object) -> Bot:
    base = tmp_path_factory.mktemp("two-sources")
    settings = fixture_settings(base)
    shutil.copytree(FIXTURES / "repo", base / "repo")
    settings = settings.model_copy(update={"sources": [base / "kb", base / "repo"],
                                           "source_names": {base / "repo": "orders-repo"}})
    ingest(settings, bundled_embedder)  # type: ignore[arg-type]
    return load_bot(settings, bundled_embedder)  # type: ignore[arg-type]


@pytest.mark.integration
def test_citations_name_their_source_and_the_filter_keeps_to_it(two_sources: Bot) -> None:
    answer = two_sources.ask(QUESTION)
    assert {c.source_name for c in answer.citations} <= {"kb", "orders-repo"} and answer.citations
    assert any(c.source_name == "orders-repo" and c.source == "orders-queue/template.yaml" for c in answer.citations)
    only_kb = two_sources.ask(QUESTION, filters=Filters(source_name="kb"))
    assert only_kb.citations and {c.source_name for c in only_kb.citations} == {"kb"}
    only_repo = two_sources.ask(QUESTION, filters=Filters(source_name="orders-repo"))
    assert {c.source_name for c in only_repo.citations} == {"orders-repo"}
    expected = (Path(two_sources.settings.sources[1]) / "orders-queue" / "template.yaml").read_text().rstrip("\n")
    assert any(t.code == expected for t in only_repo.templates)
