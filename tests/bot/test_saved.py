"""The compact, memory-mapped corpus answers exactly as the in-memory one it was saved from."""

from __future__ import annotations

import json
import mmap
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot import columns as columns_module
from bot.columns import MetaColumns, RangeMap, Sentence, TermColumn, TextColumn, Vocabulary
from bot.compose import Composer
from bot.corpus import Corpus, bm25_index, load_corpus, manifest_fingerprint
from bot.persona import load_persona
from bot.retrieve import Filters, HybridRetriever
from bot.saved import SNAPSHOT_FORMAT, load_saved_corpus, save_corpus
from bot.snapshot import load_snapshot
from core.settings import Settings
from ingest.index import IndexStore, peek_head
from ingest.pipeline import ingest
from ingest.sentences import decode_sentences
from tests.chaos.conftest import hashing_settings
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder

QUESTIONS = ["How do I retry failed messages?", "cold start of the first request", "Show me a SAM template",
             "What are the limits?", "DynamoDB table design", "idempotency keys"]


def _plain(store: IndexStore, bm25: object) -> Corpus:
    """The chunks read straight from Chroma into plain lists, dicts and arrays: the representation
    before columns, built independently of them."""
    got = store.chunks().get(include=["documents", "metadatas", "embeddings"])
    texts, sentences, matrices = list(got["documents"]), [], []
    for row, meta in enumerate(got["metadatas"]):
        if meta.get("sentences"):
            spans, matrix = decode_sentences(dict(meta), 64)
            sentences.extend(Sentence(row, a, b, texts[row][a:b]) for a, b in spans)
            matrices.append(matrix)
    metas = [{k: v for k, v in m.items() if k not in ("sentences", "sentence_vectors")} for m in got["metadatas"]]
    return Corpus(list(got["ids"]), texts, metas, np.asarray(got["embeddings"], dtype=np.float32), sentences,
                  np.concatenate(matrices), manifest_fingerprint(store), bm25=bm25)  # type: ignore[arg-type]


def _mapped(array: object) -> bool:
    """Whether an array's memory is a mapped file (through any views of it)."""
    while array is not None:
        if isinstance(array, mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Corpus, Corpus, Corpus]:
    settings = hashing_settings(tmp_path_factory.mktemp("saved"))
    for name in ("table.md", "code-comments.md"):  # a table with stored rows, templates with companions
        shutil.copy(FIXTURES / "docs" / name, settings.sources[0] / name)
    ingest(settings, HashingEmbedder())
    store = IndexStore.open(settings, "test:hashing")
    try:
        read = load_corpus(store, settings.cache_dir)
        plain = _plain(store, read.bm25)
    finally:
        store.close()
    folder = settings.cache_dir / "snapshot-test"
    save_corpus(read, folder, "test:hashing")
    mapped = load_saved_corpus(folder, "test:hashing", settings.cache_dir)
    assert mapped is not None
    return settings, plain, read, mapped


def test_the_mapped_corpus_holds_what_was_saved(corpora: tuple[Settings, Corpus, Corpus, Corpus]) -> None:
    _, plain, read, mapped = corpora
    assert _mapped(mapped.vectors) and _mapped(mapped.sentence_vectors) and not _mapped(read.vectors)
    assert len(mapped.sentences) > 0 and any(m["kind"] == "table" for m in plain.metas)
    for corpus in (read, mapped):
        assert corpus.ids == plain.ids and list(corpus.texts) == plain.texts
        assert [dict(m) for m in corpus.metas] == plain.metas
        assert [corpus.metas[i] for i in range(len(plain))] == plain.metas
        assert list(corpus.sentences) == list(plain.sentences)
        assert np.array_equal(corpus.vectors, plain.vectors)
        assert np.array_equal(corpus.sentence_vectors, plain.sentence_vectors)
        assert list(corpus.term_sets) == list(plain.term_sets)
        assert list(corpus.sentence_terms) == list(plain.sentence_terms)
        assert corpus.idf == pytest.approx(plain.idf) and corpus.topic_terms == plain.topic_terms
        assert corpus.doc_of == plain.doc_of and corpus.doc_rows == plain.doc_rows
        assert corpus.doc_fields == plain.doc_fields and corpus.children == plain.children
        assert {name: [list(c.ids[c.pointers[d]:c.pointers[d + 1]]) for d in range(len(c))]
                for name, c in corpus.doc_terms.items()} == \
            {name: [list(c.ids[c.pointers[d]:c.pointers[d + 1]]) for d in range(len(c))]
             for name, c in plain.doc_terms.items()}
        assert corpus.linked == plain.linked and dict(corpus.by_chunk) == dict(plain.by_chunk)
        assert dict(corpus.table_rows) == dict(plain.table_rows) and plain.table_rows


def test_the_mapped_corpus_retrieves_and_answers_the_same(corpora: tuple[Settings, Corpus, Corpus, Corpus]) -> None:
    settings, plain, _, mapped = corpora
    embedder = HashingEmbedder()
    persona = load_persona(settings.persona)
    answers = []
    for corpus in (plain, mapped):
        retriever = HybridRetriever(corpus, embedder, settings.retrieve)
        composer = Composer(corpus, persona, settings.answer)
        found = []
        for question in QUESTIONS:
            for filters in (None, Filters(provider="aws"), Filters(kind="template")):
                retrieval = retriever.search(question, filters=filters)
                found.append([(h.row, round(h.score, 9), h.companion) for h in retrieval.hits])
                if filters is None:
                    found.append(composer.compose(question, retrieval).model_dump_json())
        answers.append(found)
    assert answers[0] == answers[1]
    assert any(len(hits) > 2 for hits in answers[0] if isinstance(hits, list))


def test_another_format_model_or_a_damaged_folder_is_not_read(corpora: tuple[Settings, Corpus, Corpus, Corpus],
                                                              tmp_path: Path) -> None:
    settings, _, read, _ = corpora
    folder = tmp_path / "snapshot-x"
    save_corpus(read, folder, "test:hashing")
    assert load_saved_corpus(folder, "another:model", settings.cache_dir) is None
    saved = json.loads((folder / "corpus.json").read_text())
    (folder / "corpus.json").write_text(json.dumps({**saved, "format": "1"}))
    assert load_saved_corpus(folder, "test:hashing", settings.cache_dir) is None
    (folder / "corpus.json").write_text(json.dumps({**saved, "format": SNAPSHOT_FORMAT}))
    assert load_saved_corpus(folder, "test:hashing", settings.cache_dir) is not None
    (folder / "meta_codes.npy").write_bytes(b"not an array")
    assert load_saved_corpus(folder, "test:hashing", settings.cache_dir) is None


def test_serving_maps_the_files_it_saved_and_a_new_version_saves_new_ones(tmp_path: Path) -> None:
    settings = hashing_settings(tmp_path)
    ingest(settings, HashingEmbedder())
    persona = load_persona(settings.persona)
    first = load_snapshot(settings, HashingEmbedder(), persona)
    assert _mapped(first.corpus.vectors), "served from the mapped files, not the copies read"
    doc = next(settings.sources[0].rglob("retry-queues.md"))
    doc.write_text(doc.read_text() + "\nA new paragraph about Zephyr queues and their throttles.\n")
    ingest(settings, HashingEmbedder())
    peeked = peek_head(settings)
    assert peeked is not None
    second = load_snapshot(settings, HashingEmbedder(), persona)
    assert second.version == first.version + 1 and _mapped(second.corpus.vectors)
    assert any("Zephyr" in text for text in second.corpus.texts)
    assert [p.name for p in settings.cache_dir.glob("snapshot-*")] == [f"snapshot-{peeked[0]}-f{SNAPSHOT_FORMAT}"]


def test_a_filter_mask_over_columns_is_accepts_row_by_row(corpora: tuple[Settings, Corpus, Corpus, Corpus]) -> None:
    _, plain, _, mapped = corpora
    assert isinstance(mapped.metas, MetaColumns)
    sources = sorted({m["source"] for m in plain.metas})
    filters = [Filters(), Filters(provider="aws"), Filters(provider="azure"), Filters(kind="template"),
               Filters(kind="table", provider="aws"), Filters(doc_kind="persona"), Filters(source=sources[0]),
               Filters(source_name=str(plain.metas[0]["source_name"])), Filters(source_name="nowhere"),
               Filters(kind="prose", source=sources[-1])]
    for chosen in filters:
        expected = [chosen.accepts(meta) for meta in plain.metas]
        assert chosen.mask(mapped.metas).tolist() == expected, chosen
        assert chosen.mask(plain.metas).tolist() == expected
    assert 0 < sum(Filters().mask(mapped.metas)) < len(plain), "the persona is left out, nothing else"


def test_meta_columns_keep_types_and_absent_keys() -> None:
    metas = [{"a": 1, "b": "x", "c": ["aws", "gcp"]}, {"a": True, "b": "1"}, {"a": "1", "c": ["aws", "gcp"]}, {}]
    keys, values, codes = MetaColumns.encode(metas)
    columns = MetaColumns(keys, values, codes.T.tolist())
    assert [columns[i] for i in range(4)] == metas and list(columns) == metas
    assert [type(columns[i].get("a")) for i in range(3)] == [int, bool, str]
    row = next(iter(columns))
    assert row["c"] == ["aws", "gcp"] and row.get("missing", "d") == "d" and dict(row) == metas[0]
    assert columns[-1] == {} and columns[1:3] == metas[1:3]
    assert columns[2] is columns[2], "a recent row comes back as the same dict, as from a list"
    with pytest.raises(IndexError):
        columns[4]


def test_recent_rows_are_bounded_and_stay_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns_module, "RECENT_ROWS", 2)
    texts = [f"text {i}" for i in range(10)]
    column = TextColumn(*TextColumn.encode(texts))
    assert [column[i] for i in (0, 1, 2, 3, 0, 9, 0)] == [texts[i] for i in (0, 1, 2, 3, 0, 9, 0)]
    assert len(column._recent) <= 2


def test_text_term_and_range_columns() -> None:
    texts = ["ünïcode — text", "", "plain"]
    column = TextColumn(*TextColumn.encode(texts))
    assert list(column) == texts and column[0][:6] == "ünïcod"
    rows = [["retry", "queue", "retry"], [], ["queue"]]
    terms = TermColumn.build(rows, Vocabulary())
    assert list(terms) == [{"retry", "queue"}, set(), {"queue"}]
    assert terms.idf()["retry"] > terms.idf()["queue"] and "absent" not in terms.idf()
    ranges = RangeMap.of_sorted(np.asarray([0, 0, 2]), 3)
    assert dict(ranges) == {0: [0, 1], 2: [2]} and 1 not in ranges and ranges.get(1, []) == []
    assert Sentence(0, 0, 1, "a") == Sentence(0, 0, 1, "a")


def test_bm25_is_loaded_memory_mapped(corpora: tuple[Settings, Corpus, Corpus, Corpus]) -> None:
    settings, _, read, _ = corpora
    index = bm25_index(read, settings.cache_dir)
    assert index is not None and isinstance(index.scores["data"], np.memmap)


def test_an_unusable_snapshot_of_this_version_is_written_again(tmp_path: Path) -> None:
    """Saved by an older release (other term rules): read once from Chroma, then replaced, so the
    next process maps it instead of reading Chroma every time."""
    settings = hashing_settings(tmp_path)
    ingest(settings, HashingEmbedder())
    persona = load_persona(settings.persona)
    load_snapshot(settings, HashingEmbedder(), persona)
    peeked = peek_head(settings)
    assert peeked is not None
    folder = settings.cache_dir / f"snapshot-{peeked[0]}-f{SNAPSHOT_FORMAT}"
    saved = json.loads((folder / "corpus.json").read_text())
    (folder / "corpus.json").write_text(json.dumps({**saved, "terms": "older"}))
    assert load_saved_corpus(folder, "test:hashing", settings.cache_dir) is None
    again = load_snapshot(settings, HashingEmbedder(), persona)
    assert _mapped(again.corpus.vectors)
    assert json.loads((folder / "corpus.json").read_text())["terms"] != "older"
    assert [p.name for p in settings.cache_dir.glob("snapshot-*")] == [folder.name], "nothing left beside it"
