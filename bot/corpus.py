"""The stored chunks held in memory for one index version: texts, vectors, sentences and BM25.

Loaded once at warm-up. The BM25 index is persisted beside the index, keyed by the manifest's
fingerprint, so it is rebuilt only when the knowledge base changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.text import TERMS_VERSION, rarest, terms
from ingest.embed import Vectors
from ingest.files import write_folder
from ingest.index import IndexStore
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


@dataclass(frozen=True)
class Sentence:
    chunk: int  # row of its chunk in the corpus
    start: int
    end: int
    text: str


@dataclass
class Corpus:
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    vectors: Vectors
    sentences: list[Sentence]
    sentence_vectors: Vectors
    fingerprint: str
    bm25: bm25s.BM25 | None = None
    row: dict[str, int] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)  # prose row -> template rows
    linked: dict[int, int] = field(default_factory=dict)  # code template row -> its README's first row
    by_chunk: dict[int, list[int]] = field(default_factory=dict)  # chunk row -> sentence rows
    table_rows: dict[int, dict[int, int]] = field(default_factory=dict)  # table row -> body row -> sentence
    term_sets: list[set[str]] = field(default_factory=list)  # stemmed content words of each chunk
    sentence_terms: list[set[str]] = field(default_factory=list)  # ... and of each answer sentence
    doc_of: list[int] = field(default_factory=list)  # chunk row -> document number
    doc_rows: list[list[int]] = field(default_factory=list)  # document number -> its chunk rows
    idf: dict[str, float] = field(default_factory=dict)  # term -> rarity among chunks
    doc_fields: list[dict[str, str]] = field(default_factory=list)  # document number -> its searchable fields
    topic_terms: set[str] = field(default_factory=set)  # words of titles and tags: what documents are about

    def __post_init__(self) -> None:
        self.row = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        children: dict[int, list[int]] = defaultdict(list)
        for i, meta in enumerate(self.metas):
            parent = self.row.get(str(meta.get("parent_id") or ""))
            if parent is not None and meta["kind"] == "template":
                children[parent].append(i)
        self._link_code_to_readmes(children)
        self.children = dict(children)
        by_chunk: dict[int, list[int]] = defaultdict(list)
        for i, sentence in enumerate(self.sentences):
            by_chunk[sentence.chunk].append(i)
        self.by_chunk = dict(by_chunk)
        self.table_rows = {row: self._body_rows(row) for row, meta in enumerate(self.metas)
                           if meta["kind"] == "table" and row in self.by_chunk}
        self.term_sets = [set(terms(self.search_text(i))) for i in range(len(self.ids))]
        self.sentence_terms = [set(terms(s.text)) for s in self.sentences]
        number: dict[str, int] = {}  # source -> document number
        for i, meta in enumerate(self.metas):
            doc = number.setdefault(str(meta["source"]), len(number))
            if doc == len(self.doc_rows):
                self.doc_rows.append([])
            self.doc_rows[doc].append(i)
            self.doc_of.append(doc)
        counts: Counter[str] = Counter()
        for found in self.term_sets:
            counts.update(found)
        size = len(self.term_sets)
        # Rarity among chunks: the key concept of a question is its rarest known word.
        self.idf = {t: math.log(1 + (size - n + 0.5) / (n + 0.5)) for t, n in counts.items()}
        self.doc_fields = [self._document_fields(rows) for rows in self.doc_rows]
        self.topic_terms = set().union(*(terms(f"{f['title']} {f['tags']}") for f in self.doc_fields))

    def _body_rows(self, row: int) -> dict[int, int]:
        """A table's body row index -> its stored sentence (with a vector), matched by span."""
        index = {span: i for i, span in enumerate(row_spans(self.texts[row]))}
        found = {}
        for sentence in self.by_chunk[row]:
            s = self.sentences[sentence]
            if (s.start, s.end) in index:
                found[index[(s.start, s.end)]] = sentence
        return found

    def _link_code_to_readmes(self, children: dict[int, list[int]]) -> None:
        """A README's sections bring the templates of the code in its folder (and below, up to the next
        README) along, like a section brings its own; a code template brings the README back."""
        readmes: dict[str, list[int]] = defaultdict(list)  # folder -> README rows
        for i, meta in enumerate(self.metas):
            source = str(meta["source"])
            if source.rsplit("/", 1)[-1].lower() in ("readme.md", "readme.markdown", "index.md"):
                readmes[source.rsplit("/", 1)[0] if "/" in source else ""].append(i)
        if not readmes:
            return
        for i, meta in enumerate(self.metas):
            if meta.get("doc_kind") != "code" or meta["kind"] != "template":
                continue
            folder = str(meta["source"]).rsplit("/", 1)[0] if "/" in str(meta["source"]) else ""
            while folder not in readmes and folder:
                folder = folder.rsplit("/", 1)[0] if "/" in folder else ""
            for readme_row in readmes.get(folder, []):
                children[readme_row].append(i)
            if folder in readmes:
                self.linked[i] = readmes[folder][0]

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


def manifest_fingerprint(store: IndexStore) -> str:
    entries = sorted((m.source, m.doc_hash, m.status) for m in store.manifest().values())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def _fetch(collection: Any, include: list[str], page: int) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
    total = collection.count()
    for offset in range(0, total, page):
        got = collection.get(include=include, limit=page, offset=offset)
        merged["ids"].extend(got["ids"])
        for key in include:
            merged[key].extend(list(got[key]) if got[key] is not None else [])
    return merged


def load_corpus(store: IndexStore, cache_dir: Path) -> Corpus:
    fingerprint = manifest_fingerprint(store)
    chunks = _fetch(store.chunks(), ["documents", "metadatas", "embeddings"], store.batch_size)
    dimension = len(chunks["embeddings"][0]) if chunks["embeddings"] else 0
    vectors = np.asarray(chunks["embeddings"], dtype=np.float32).reshape(-1, dimension)
    sentences: list[Sentence] = []
    matrices = []
    for row, (meta, text) in enumerate(zip(chunks["metadatas"], chunks["documents"], strict=True)):
        if meta.get("sentences"):
            spans, matrix = decode_sentences(meta, dimension)
            sentences.extend(Sentence(row, a, b, text[a:b]) for a, b in spans)
            matrices.append(matrix)
    sentence_vectors = np.concatenate(matrices) if matrices else np.zeros((0, dimension), dtype=np.float32)
    metas = [{k: v for k, v in m.items() if k not in ("sentences", "sentence_vectors")} for m in chunks["metadatas"]]
    corpus = Corpus(chunks["ids"], chunks["documents"], metas, vectors, sentences, sentence_vectors, fingerprint)
    corpus.bm25 = _bm25(corpus, cache_dir)
    return corpus


SNAPSHOT_FORMAT = "1"


def save_corpus(corpus: Corpus, folder: Path, model: str) -> None:
    """The corpus as files a new process loads without Chroma: vectors as .npy (memory-mapped on
    load), texts and metadata as JSON; older snapshots beside it are dropped."""

    def write(target: Path) -> None:
        np.save(target / "vectors.npy", np.ascontiguousarray(corpus.vectors, dtype=np.float32))
        np.save(target / "sentence_vectors.npy", np.ascontiguousarray(corpus.sentence_vectors, dtype=np.float32))
        np.save(target / "sentences.npy", np.asarray([(s.chunk, s.start, s.end) for s in corpus.sentences],
                                                     dtype=np.int64).reshape(-1, 3))
        (target / "corpus.json").write_text(json.dumps({
            "format": SNAPSHOT_FORMAT, "model": model, "fingerprint": corpus.fingerprint, "ids": corpus.ids,
            "texts": corpus.texts, "metas": corpus.metas}))

    write_folder(folder, write, stale="snapshot-*")


def load_saved_corpus(folder: Path, model: str, cache_dir: Path) -> Corpus | None:
    """A corpus saved by save_corpus for this model, or None (absent, another model, another format)."""
    try:
        saved = json.loads((folder / "corpus.json").read_text())
        if saved.get("format") != SNAPSHOT_FORMAT or saved.get("model") != model:
            return None
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r")
        rows = np.load(folder / "sentences.npy")
    except (OSError, ValueError):
        return None
    texts: list[str] = saved["texts"]
    sentences = [Sentence(int(c), int(a), int(b), texts[int(c)][int(a):int(b)]) for c, a, b in rows.tolist()]
    corpus = Corpus(saved["ids"], texts, saved["metas"], vectors, sentences, sentence_vectors, saved["fingerprint"])
    corpus.bm25 = _bm25(corpus, cache_dir)
    return corpus


def _bm25(corpus: Corpus, cache_dir: Path) -> bm25s.BM25 | None:
    if not len(corpus):
        return None
    folder = cache_dir / f"bm25-{corpus.fingerprint}-{TERMS_VERSION}"
    ids_file = folder / "chunk_ids.json"
    if ids_file.exists() and json.loads(ids_file.read_text()) == corpus.ids:
        return bm25s.BM25.load(str(folder))
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
