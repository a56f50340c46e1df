"""The stored chunks of one index version: texts, metadata, vectors, sentences and BM25.

Loaded from Chroma once per index version, then saved as snapshot files (`save_corpus`) that a
new process maps instead: vectors and sentence vectors as one float32 array each, texts as one
UTF-8 array, metadata as dictionary-encoded columns, the terms of every chunk and sentence as
term numbers, and what is derived from them (documents, companions). Loading a saved corpus does
no per-chunk work, and a chunk's text, metadata or terms become Python objects only when asked
for (`bot.columns`). The BM25 index is persisted beside the index, keyed by the manifest's
fingerprint, and memory-mapped when loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.columns import LazyMap, MetaColumns, RangeMap, Sentence, SentenceColumn, TermColumn, TextColumn, Vocabulary
from bot.text import TERMS_VERSION, rarest, terms
from core.chunk_meta import ChunkMeta
from ingest.embed import Vectors
from ingest.files import write_folder
from ingest.index import IndexStore
from ingest.records import document_key
from ingest.sentences import decode_sentences
from ingest.tables import row_spans

log = logging.getLogger("kb.corpus")


def _import_bm25s() -> Any:
    """bm25s imports numba when it is installed (ranx brings it for the evals) for a backend this
    project never uses; that costs a fifth of a second of every `kb ask`. Hide numba while bm25s
    loads; anything importing numba later gets it as usual."""
    if "numba" in sys.modules or "bm25s" in sys.modules:
        import bm25s
        return bm25s
    sys.modules["numba"] = None  # type: ignore[assignment]  # `import numba` now raises ImportError
    try:
        import bm25s
    finally:
        del sys.modules["numba"]
    return bm25s


if TYPE_CHECKING:
    import bm25s
else:
    bm25s = _import_bm25s()


DOC_FIELDS = ("title", "summary", "tags", "headings")  # what a document is searched by (`_document_fields`)


_HEAD = re.compile(r"(?<=[a-z0-9])-([a-z]+)\b")  # the last part of a hyphenated word


@dataclass(frozen=True)
class Prepared:
    """What a saved corpus already holds, so loading it does no per-chunk work."""

    children: dict[int, list[int]]
    linked: dict[int, int]
    term_sets: TermColumn
    sentence_terms: TermColumn
    doc_of: list[int]
    doc_fields: list[dict[str, str]]
    topic_terms: set[str]
    doc_terms: dict[str, TermColumn]


@dataclass
class Corpus:
    ids: list[str]
    texts: Sequence[str]
    metas: Sequence[ChunkMeta]
    vectors: Vectors
    sentences: Sequence[Sentence]
    sentence_vectors: Vectors
    fingerprint: str
    bm25: bm25s.BM25 | None = None
    prepared: InitVar[Prepared | None] = None
    row: dict[str, int] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)  # prose row -> template rows
    linked: dict[int, int] = field(default_factory=dict)  # code template row -> its README's first row
    by_chunk: Mapping[int, list[int]] = field(default_factory=dict)  # chunk row -> sentence rows
    table_rows: Mapping[int, dict[int, int]] = field(default_factory=dict)  # table row -> body row -> sentence
    term_sets: TermColumn = field(init=False)  # stemmed content words of each chunk
    sentence_terms: TermColumn = field(init=False)  # ... and of each answer sentence (same vocabulary)
    doc_of: list[int] = field(default_factory=list)  # chunk row -> document number
    doc_rows: list[list[int]] = field(default_factory=list)  # document number -> its chunk rows
    idf: dict[str, float] = field(default_factory=dict)  # term -> rarity among chunks
    doc_fields: list[dict[str, str]] = field(default_factory=list)  # document number -> its searchable fields
    topic_terms: set[str] = field(default_factory=set)  # words of titles and tags: what documents are about
    doc_terms: dict[str, TermColumn] = field(init=False)  # field -> each document's terms in it (repeats kept)

    def __post_init__(self, prepared: Prepared | None) -> None:
        self.row = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        prepared = prepared or self._prepare()
        self.children, self.linked = prepared.children, prepared.linked
        self.by_chunk = self._sentences_by_chunk()
        self.term_sets, self.sentence_terms = prepared.term_sets, prepared.sentence_terms
        self.doc_of, self.doc_fields, self.topic_terms = prepared.doc_of, prepared.doc_fields, prepared.topic_terms
        self.doc_terms = prepared.doc_terms
        self.doc_rows = _rows_by_doc(self.doc_of, len(self.doc_fields))
        self.table_rows = LazyMap(self._body_rows, len(self.ids))  # table rows are parsed when first quoted
        # Rarity among chunks: the key concept of a question is its rarest known word.
        self.idf = prepared.term_sets.idf()

    @cached_property
    def source_names(self) -> tuple[str, ...]:
        """Sorted names of the sources the chunks came from (reads every chunk's metadata, once)."""
        return tuple(sorted({str(m.get("source_name") or "") for m in self.metas} - {""}))

    @cached_property
    def template_count(self) -> int:
        return sum(m["kind"] == "template" for m in self.metas)

    def _prepare(self) -> Prepared:
        children: dict[int, list[int]] = defaultdict(list)
        for i, meta in enumerate(self.metas):
            parent = self.row.get(str(meta.get("parent_id") or ""))
            if parent is not None and meta["kind"] == "template":
                children[parent].append(i)
        linked = self._link_code_to_readmes(children)
        vocabulary = Vocabulary()
        term_sets = TermColumn.build((terms(self.search_text(i)) for i in range(len(self.ids))), vocabulary)
        sentence_terms = TermColumn.build((terms(s.text) for s in self.sentences), vocabulary)
        number: dict[str, int] = {}  # source -> document number
        doc_of = [number.setdefault(meta_key(meta), len(number)) for meta in self.metas]
        doc_fields = [self._document_fields(rows) for rows in _rows_by_doc(doc_of, len(number))]
        # "Multi-tenant isolation" is about tenants: a hyphenated title or tag word also names its head,
        # the last part (not "right" of "right-sizing").
        topics = [f"{f['title']} {f['tags']}".lower() for f in doc_fields]
        topic_terms = set().union(*(terms(" ".join([t, *_HEAD.findall(t)])) for t in topics))
        doc_terms = {name: TermColumn.build((terms(f.get(name, "")) for f in doc_fields), vocabulary, repeats=True)
                     for name in DOC_FIELDS}
        return Prepared(dict(children), linked, term_sets, sentence_terms, doc_of, doc_fields, topic_terms, doc_terms)

    def _sentences_by_chunk(self) -> Mapping[int, list[int]]:
        if isinstance(self.sentences, SentenceColumn):  # stored in chunk order
            return RangeMap.of_sorted(self.sentences.rows[:, 0], len(self.ids))
        by_chunk: dict[int, list[int]] = defaultdict(list)
        for i, sentence in enumerate(self.sentences):
            by_chunk[sentence.chunk].append(i)
        return dict(by_chunk)

    def _body_rows(self, row: int) -> dict[int, int] | None:
        """A table's body row index -> its stored sentence (with a vector), matched by span; None for
        a chunk that is not a table with stored rows."""
        if self.metas[row]["kind"] != "table" or row not in self.by_chunk:
            return None
        index = {span: i for i, span in enumerate(row_spans(self.texts[row]))}
        found = {}
        for sentence in self.by_chunk[row]:
            s = self.sentences[sentence]
            if (s.start, s.end) in index:
                found[index[(s.start, s.end)]] = sentence
        return found

    def _link_code_to_readmes(self, children: dict[int, list[int]]) -> dict[int, int]:
        """A README's sections bring the templates of the code in its folder (and below, up to the next
        README) along, like a section brings its own; a code template brings the README back."""
        readmes: dict[tuple[str, str], list[int]] = defaultdict(list)  # (source name, folder) -> README rows
        linked: dict[int, int] = {}
        for i, meta in enumerate(self.metas):
            source = str(meta["source"])
            if source.rsplit("/", 1)[-1].lower() in ("readme.md", "readme.markdown", "index.md"):
                readmes[(str(meta.get("source_name") or ""), _folder(source))].append(i)
        if not readmes:
            return linked
        for i, meta in enumerate(self.metas):
            if meta.get("doc_kind") != "code" or meta["kind"] != "template":
                continue
            name, folder = str(meta.get("source_name") or ""), _folder(str(meta["source"]))
            while (name, folder) not in readmes and folder:
                folder = _folder(folder)
            for readme_row in readmes.get((name, folder), []):
                children[readme_row].append(i)
            if (name, folder) in readmes:
                linked[i] = readmes[(name, folder)][0]
        return linked

    def topical(self, asked: set[str]) -> set[str]:
        """The terms that name topics (words of document titles and tags), not short codes or numbers."""
        return {t for t in asked if t in self.topic_terms and t.isalpha() and len(t) > 3}

    def closest_sentence(self, row: int, vector: Vectors) -> float | None:
        """The best cosine of a chunk's answer sentences to `vector`; None when it has none (templates,
        tables without stored rows)."""
        sentences = self.by_chunk.get(row, [])
        return float(np.max(self.sentence_vectors[sentences] @ vector)) if len(sentences) else None

    def closeness(self, rows: Sequence[int], vector: Vectors, whole: Sequence[float] | None = None) -> np.ndarray:
        """How close each chunk is to `vector`: its whole vector's cosine (or `whole`, when the caller
        has it), or its closest answer sentence's when that is closer: a section of many bullets
        answers in one of them. One product for all the rows' sentences."""
        # A copy: the caller's `whole` must not be overwritten with the sentences' scores.
        out = np.array(self.vectors[list(rows)] @ vector if whole is None else whole, dtype=np.float64)
        groups = [self.by_chunk.get(row, []) for row in rows]
        sentences = [s for group in groups for s in group]
        if not sentences:
            return out
        scores = self.sentence_vectors[sentences] @ vector
        have = [i for i, group in enumerate(groups) if group]
        starts = np.cumsum([0] + [len(groups[i]) for i in have[:-1]])
        out[have] = np.maximum(out[have], np.maximum.reduceat(scores, starts))
        return out

    def key_terms(self, terms_: set[str], count: int = 1) -> list[str]:
        """The rarest of these terms that the corpus knows, rarest first."""
        return rarest(terms_, self.idf, count)

    @property
    def doc_sources(self) -> list[str]:
        """Document number -> source."""
        return [str(self.metas[rows[0]]["source"]) for rows in self.doc_rows]

    def _document_fields(self, rows: list[int]) -> dict[str, str]:
        """The fields a document is searched by: title, summary, tags and heading words."""
        first = self.metas[rows[0]]
        headings = dict.fromkeys(part for r in rows for part in str(self.metas[r]["section"]).split(" > ")[1:])
        return {"title": str(first["title"]), "summary": str(first.get("doc_summary") or ""),
                "tags": " ".join(str(t) for t in (first.get("doc_tags") or [])), "headings": " ".join(headings)}

    def __len__(self) -> int:
        return len(self.ids)

    def search_text(self, row: int) -> str:
        meta = self.metas[row]
        return f"{meta['title']} {meta['section']} {self.texts[row]}"


def meta_key(meta: ChunkMeta) -> str:
    """The document a chunk belongs to: its source's name and path (one path may be in two sources)."""
    return document_key(meta.get("source_name", ""), meta["source"])


def _rows_by_doc(doc_of: list[int], documents: int) -> list[list[int]]:
    """Document number -> its chunk rows, in row order."""
    rows: list[list[int]] = [[] for _ in range(documents)]
    for i, doc in enumerate(doc_of):
        rows[doc].append(i)
    return rows


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def manifest_fingerprint(store: IndexStore) -> str:
    entries = sorted((m.source, m.doc_hash, m.status) for m in store.manifest().values())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


_SENTENCE_KEYS = ("sentences", "sentence_vectors")


def load_corpus(store: IndexStore, cache_dir: Path) -> Corpus:
    """The published chunks, read from Chroma page by page: a page's encoded sentence vectors are
    decoded and dropped before the next is read, texts and metadata go straight into columns, so
    memory holds about one copy of the corpus, not three (at 100k chunks, 2.8 GB before)."""
    fingerprint = manifest_fingerprint(store)
    collection = store.chunks()
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    vector_pages: list[Vectors] = []
    sentence_pages: list[np.ndarray] = []  # float16, as stored
    sentence_rows: list[tuple[int, int, int]] = []
    dimension = 0
    for offset in range(0, collection.count(), store.batch_size):
        got = collection.get(include=["documents", "metadatas", "embeddings"], limit=store.batch_size, offset=offset)
        page = np.asarray(got["embeddings"], dtype=np.float32)
        dimension = page.shape[1] if page.ndim == 2 else dimension
        vector_pages.append(page.reshape(-1, dimension))
        for meta, text in zip(got["metadatas"] or [], got["documents"] or [], strict=True):
            if meta.get("sentences"):
                spans, matrix = decode_sentences(dict(meta), dimension)
                sentence_rows.extend((len(texts), a, b) for a, b in spans)
                sentence_pages.append(matrix.astype(np.float16))
            metas.append({k: v for k, v in meta.items() if k not in _SENTENCE_KEYS})
            texts.append(text)
        ids.extend(got["ids"])
    vectors = np.concatenate(vector_pages) if vector_pages else np.zeros((0, dimension), dtype=np.float32)
    sentence_vectors = (np.concatenate(sentence_pages, dtype=np.float32) if sentence_pages
                        else np.zeros((0, dimension), dtype=np.float32))
    keys, values, codes = MetaColumns.encode(metas)
    columns = MetaColumns(keys, values, codes.T.tolist())
    text_column = TextColumn(*TextColumn.encode(texts))
    del metas, texts, sentence_pages, vector_pages
    rows = np.asarray(sentence_rows, dtype=np.int32).reshape(-1, 3)
    corpus = Corpus(ids, text_column, columns, vectors, SentenceColumn(rows, text_column), sentence_vectors,
                    fingerprint)
    corpus.bm25 = bm25_index(corpus, cache_dir)
    return corpus


def bm25_index(corpus: Corpus, cache_dir: Path) -> bm25s.BM25 | None:
    """The corpus's BM25 index, memory-mapped from its cache folder, built and saved there if absent."""
    if not len(corpus):
        return None
    folder = cache_dir / f"bm25-{corpus.fingerprint}-{TERMS_VERSION}"
    ids_file = folder / "chunk_ids.json"
    if ids_file.exists() and json.loads(ids_file.read_text()) == corpus.ids:
        return bm25s.BM25.load(str(folder), mmap=True)
    retriever = bm25s.BM25()
    retriever.index([terms(corpus.search_text(i)) or ["_"] for i in range(len(corpus))], show_progress=False)
    try:
        write_folder(folder, lambda target: _save_bm25(retriever, corpus.ids, target), stale="bm25-*")
    except OSError as exc:  # a full or read-only disk costs a rebuild next start, never the answers
        log.warning("cannot cache the BM25 index in %s: %s", cache_dir, exc)
    return retriever


def _save_bm25(retriever: bm25s.BM25, ids: list[str], target: Path) -> None:
    retriever.save(str(target))
    (target / "chunk_ids.json").write_text(json.dumps(ids))
