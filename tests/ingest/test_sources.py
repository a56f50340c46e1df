"""Several named sources: DIR[=NAME], names in chunks and manifest, no collisions, removing a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import DestructiveIngestError, SourceError
from core.settings import Settings, SourceFolder, default_source_name, parse_source
from ingest.chunk import Chunker, ChunkLimits
from ingest.index import IndexStore, ManifestEntry
from ingest.load import load_documents
from ingest.markdown import parse_sections
from ingest.pipeline import ingest
from ingest.stats import collect_stats
from tests.fakes import HashingEmbedder

README = "# Orders service\n\nThe orders service reads an SQS queue and writes DynamoDB items.\n"
OTHER = "# Billing service\n\nThe billing service is triggered by EventBridge on a schedule.\n"


def _folder(base: Path, name: str, files: dict[str, str]) -> Path:
    folder = base / name
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def _named(settings: Settings, *specs: str) -> Settings:
    parsed = [parse_source(spec) for spec in specs]
    return settings.model_copy(update={"sources": [p for p, _ in parsed],
                                       "source_names": {p: n for p, n in parsed if n}})


def test_parse_source_takes_an_optional_name(tmp_path: Path) -> None:
    assert parse_source("docs") == (Path("docs"), None)
    assert parse_source("../team/wiki=wiki-export") == (Path("../team/wiki"), "wiki-export")
    odd = tmp_path / "a=b"
    odd.mkdir()
    assert parse_source(str(odd)) == (odd, None), "an existing folder whose name has '=' is a folder"
    with pytest.raises(SourceError, match=r"source 'docs=bad name'.*the name 'bad name' must be"):
        parse_source("docs=bad name")
    with pytest.raises(SourceError, match="no folder before '='"):
        parse_source("=docs")


def test_default_name_is_the_folder_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_source_name(Path("kb/")) == "kb"
    (tmp_path / "My Docs").mkdir()
    monkeypatch.chdir(tmp_path / "My Docs")
    assert default_source_name(Path(".")) == "My-Docs"


def test_kb_sources_variable_takes_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_SOURCES", "kb:../repos/orders=orders")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.named_sources() == [SourceFolder(Path("kb"), "kb"), SourceFolder(Path("../repos/orders"),
                                                                                      "orders")]
    monkeypatch.setenv("KB_SOURCES", "kb=not ok")
    with pytest.raises(ValueError, match="the name 'not ok' must be"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_two_folders_under_one_name_are_refused(tmp_path: Path) -> None:
    settings = Settings(sources=[tmp_path / "a" / "docs", tmp_path / "b" / "docs"], _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SourceError, match=r"a/docs and .*b/docs are both named 'docs'; name one with --source"):
        settings.named_sources()


def test_the_same_path_in_two_sources_is_two_documents(settings: Settings, embedder: HashingEmbedder,
                                                       tmp_path: Path) -> None:
    orders = _folder(tmp_path, "orders", {"overview.md": README})
    billing = _folder(tmp_path, "billing", {"overview.md": README})  # same path, same text
    both = _named(settings, f"{orders}=orders", f"{billing}=billing")
    report = ingest(both, embedder)
    assert report.documents_changed == 2 and sorted(report.changed) == ["billing:overview.md", "orders:overview.md"]
    store = IndexStore.open(both, embedder.name)
    manifest = store.manifest()
    assert set(manifest) == {"orders:overview.md", "billing:overview.md"}
    ids = {key: set(entry.chunk_ids) for key, entry in manifest.items()}
    assert ids["orders:overview.md"].isdisjoint(ids["billing:overview.md"]), "chunk ids must differ by source"
    metas = store.all_metadata()
    assert sorted(m["source_name"] for m in metas) == ["billing"] * len(ids["billing:overview.md"]) + \
        ["orders"] * len(ids["orders:overview.md"])
    assert {m["source"] for m in metas} == {"overview.md"}, "the path stays relative to its own folder"
    # Changing one copy re-embeds only that one.
    (billing / "overview.md").write_text(OTHER)
    again = ingest(both, embedder)
    assert again.changed == ["billing:overview.md"] and again.documents_unchanged == 1


def test_loaded_documents_carry_their_source_name(tmp_path: Path) -> None:
    docs = _folder(tmp_path, "docs", {"a.md": README})
    wiki = _folder(tmp_path, "wiki", {"a.md": OTHER})
    loaded = load_documents([SourceFolder(docs, "team-docs"), wiki], 10_000)
    assert sorted((d.source_name, d.source, d.key) for d in loaded.documents) == [
        ("team-docs", "a.md", "team-docs:a.md"), ("wiki", "a.md", "wiki:a.md")]


def test_removing_a_source_needs_prune_and_then_removes_its_chunks(settings: Settings, embedder: HashingEmbedder,
                                                                   tmp_path: Path) -> None:
    kb = _folder(tmp_path, "kb", {f"note-{i}.md": f"# Note {i}\n\nQueue note number {i} about retries.\n"
                                  for i in range(4)})
    repo = _folder(tmp_path, "repo", {"overview.md": README})
    both = _named(settings, str(kb), f"{repo}=orders")
    ingest(both, embedder)
    only_kb = _named(settings, str(kb))
    # One document of five: not "most", yet the whole of a source; a forgotten --source looks like this.
    with pytest.raises(DestructiveIngestError, match=r"remove 1 of the 5 indexed documents \(orders:overview\.md\) "
                                                     r"because the source 'orders' \(1 document\) is not among the "
                                                     r"sources given \(kb; add it back with --source DIR=NAME\).*"
                                                     r"--prune"):
        ingest(only_kb, embedder)
    plan = ingest(only_kb, embedder, dry_run=True)
    assert plan.sources_removed == {"orders": 1} and plan.removed == ["orders:overview.md"]
    assert any("without --prune" in w for w in plan.warnings)
    report = ingest(only_kb, embedder, prune=True)
    assert report.sources_removed == {"orders": 1} and report.documents_removed == 1 and report.chunks_deleted >= 1
    store = IndexStore.open(settings, embedder.name)
    assert {m["source_name"] for m in store.all_metadata()} == {"kb"}
    assert all(key.startswith("kb:") for key in store.manifest())


def test_an_index_from_before_names_is_taken_over_without_refusal(settings: Settings,
                                                                  embedder: HashingEmbedder) -> None:
    kb = settings.sources[0]
    (kb / "a.md").write_text(README)
    (kb / "b.md").write_text(OTHER)
    store = IndexStore.open(settings, embedder.name)
    chunker = Chunker(embedder.count_tokens, ChunkLimits(64, 48, 3))
    for doc in load_documents([kb], 10_000).documents:
        old = type(doc)(doc.source, doc.root, doc.title, doc.kind, doc.body)  # written with no source name
        chunks = chunker.chunk(old, parse_sections(old.body))
        assert all("source_name" not in c.metadata("h") for c in chunks)
        store.upsert(chunks, embedder.embed([c.embed_text for c in chunks]), {old.key: "h"}, embedder.dimension)
        store.mark([ManifestEntry(old.source, "h", "done", tuple(c.id for c in chunks), old.title, old.kind)])
    store.close()
    (kb / "b.md").unlink()  # one of two: "most" of the index if the old records counted as removals
    report = ingest(settings, embedder)
    assert report.removed == ["b.md"] and report.documents_removed == 1
    assert any("predates named sources" in w for w in report.warnings)
    store = IndexStore.open(settings, embedder.name)
    assert list(store.manifest()) == ["kb:a.md"]
    assert {(m["source_name"], m["source"]) for m in store.all_metadata()} == {("kb", "a.md")}


def test_stats_count_documents_and_chunks_per_source_and_format(settings: Settings, embedder: HashingEmbedder,
                                                               tmp_path: Path) -> None:
    docs = _folder(tmp_path, "docs", {"a.md": README, "b.md": OTHER, "page.html":
                                      "<html><body><main><h1>Page</h1><p>Step Functions retries.</p></main></body>"
                                      "</html>"})
    repo = _folder(tmp_path, "repo", {"overview.md": README, "main.tf":
                                      'resource "aws_sqs_queue" "orders" {\n  name = "orders"\n}\n'})
    both = _named(settings, f"{docs}=docs", f"{repo}=orders")
    ingest(both, embedder)
    stats = collect_stats(both, IndexStore.open(both, embedder.name))
    assert set(stats.sources) == {"docs", "orders"}
    assert stats.sources["docs"].documents == 3 and set(stats.sources["docs"].formats) == {"markdown", "html"}
    assert stats.sources["docs"].formats["markdown"].documents == 2
    assert set(stats.sources["orders"].formats) == {"markdown", "terraform"}
    assert stats.formats["markdown"].documents == 3
    assert sum(s.chunks for s in stats.sources.values()) == stats.chunks
    assert {(d.source_name, d.format) for d in stats.document_list} >= {("orders", "terraform"), ("docs", "html")}
