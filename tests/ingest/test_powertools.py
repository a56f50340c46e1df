"""Integration: the public Powertools for AWS Lambda (Python) docs, a real mkdocs-material corpus
(admonitions, content tabs, `--8<--` snippet includes of example files), ingested into a real Chroma."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from core.settings import Settings
from ingest.index import IndexStore
from ingest.pipeline import IngestReport, ingest
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder

pytestmark = pytest.mark.integration
Ingested = tuple[IngestReport, dict[str, dict[str, Any]], dict[str, str]]  # the report, metadata and text by chunk id
POWERTOOLS = ROOT.parent / "shared" / "corpora" / "powertools-python"
# mkdocs-material syntax that must never reach a chunk: a snippet include, an admonition, a content tab.
RAW_SYNTAX = re.compile(r'--8<--|^\s*(?:!!!|\?\?\?\+?)\s|^\s*===\s+"', re.M)
SNIPPET = re.compile(r'^\s*-*8<--\s+"([^"]+)"', re.M)


@pytest.fixture(scope="module")
def powertools(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    if not POWERTOOLS.is_dir():
        pytest.skip("../shared/corpora/powertools-python is absent")
    base = tmp_path_factory.mktemp("powertools")
    settings = Settings(sources=[POWERTOOLS], index_dir=base / "index", exclude_rules=ROOT / "kb" / "exclude.yaml",
                        embedding_model="test:hashing", _env_file=None)  # type: ignore[call-arg]
    report = ingest(settings, HashingEmbedder())
    got = IndexStore.open(settings, "test:hashing").chunks().get(include=["documents", "metadatas"])
    metas = {i: dict(m) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)}
    texts = dict(zip(got["ids"], got["documents"] or [], strict=True))
    return report, metas, texts


@cache
def _docs_text() -> str:
    pages = sorted((POWERTOOLS / "docs").rglob("*.md"))
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in pages)


def test_no_mkdocs_syntax_reaches_a_chunk(powertools: Ingested) -> None:
    report, metas, texts = powertools
    assert len(RAW_SYNTAX.findall(_docs_text())) > 100  # the corpus is full of it: the test means something
    assert report.chunks_added == len(texts) > 1000
    leftovers = [(metas[i]["source"], metas[i]["start_line"], m.group()) for i, text in texts.items()
                 if (m := RAW_SYNTAX.search(text))]
    assert not leftovers


def test_every_included_example_is_a_template_of_the_section_that_includes_it(powertools: Ingested) -> None:
    _, metas, _ = powertools
    included = {path for path in SNIPPET.findall(_docs_text())
                if not path.endswith(".md") and (POWERTOOLS / path).is_file()}
    assert len(included) > 100
    linked = {m["origin"] for m in metas.values()
              if m["kind"] == "template" and m.get("origin") and m["source"].startswith("docs/")
              and metas.get(str(m.get("parent_id")), {}).get("source") == m["source"]}
    assert included - linked == set()
