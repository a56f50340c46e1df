"""A corpus as snapshot files that a new process maps instead of reading Chroma.

One folder per published index version (its name is the version's key, so a new version never
reads old files). Arrays are .npy files opened memory-mapped: the serving process holds pages
of them, not copies, and only the pages a query touches. The rest is one JSON file of what is
small at any size: chunk ids, the distinct metadata values, the term vocabulary, documents.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from bot.columns import MetaColumns, SentenceColumn, TermColumn, TextColumn
from bot.corpus import DOC_FIELDS, Corpus, Prepared, bm25_index
from bot.text import TERMS_VERSION
from ingest.files import write_folder

log = logging.getLogger("kb.snapshot")
SNAPSHOT_FORMAT = "5"  # 2: compact columns and prepared structures; 3: documents keyed by source name and path;
# 4: documents' field terms as columns; 5: topic terms include the head (last part) of hyphenated title and tag words


def _sentence_rows(corpus: Corpus) -> np.ndarray:
    if isinstance(corpus.sentences, SentenceColumn):
        return np.asarray(corpus.sentences.rows, dtype=np.int32)
    return np.asarray([(s.chunk, s.start, s.end) for s in corpus.sentences], dtype=np.int32).reshape(-1, 3)


def save_corpus(corpus: Corpus, folder: Path, model: str) -> None:
    """Write the corpus's snapshot files; older snapshots beside it are dropped."""
    rows = _sentence_rows(corpus)
    if len(rows) and np.any(np.diff(rows[:, 0]) < 0):
        raise ValueError("sentences must be stored in chunk order")
    chunk_terms, sentence_terms = corpus.term_sets, corpus.sentence_terms
    vocabulary = chunk_terms.vocabulary  # the sentences' terms are numbered over it too
    if isinstance(corpus.metas, MetaColumns):  # read from Chroma: already columns
        keys, values = corpus.metas.keys, corpus.metas.values
        codes = np.asarray(corpus.metas.codes, dtype=np.int32).reshape(len(keys), len(corpus.ids)).T
    else:
        keys, values, codes = MetaColumns.encode(corpus.metas)
    texts = corpus.texts
    blob, offsets = (texts.blob, texts.offsets) if isinstance(texts, TextColumn) else TextColumn.encode(texts)

    def write(target: Path) -> None:
        arrays = {"vectors": np.ascontiguousarray(corpus.vectors, dtype=np.float32),
                  "sentence_vectors": np.ascontiguousarray(corpus.sentence_vectors, dtype=np.float32),
                  "sentences": rows, "texts": blob, "text_offsets": offsets, "meta_codes": codes,
                  "chunk_terms": chunk_terms.ids, "chunk_term_pointers": chunk_terms.pointers,
                  "sentence_terms": sentence_terms.ids, "sentence_term_pointers": sentence_terms.pointers,
                  "doc_of": np.asarray(corpus.doc_of, dtype=np.int32),
                  **{f"doc_terms_{name}": column.ids for name, column in corpus.doc_terms.items()},
                  **{f"doc_term_pointers_{name}": column.pointers for name, column in corpus.doc_terms.items()}}
        for name, array in arrays.items():
            np.save(target / f"{name}.npy", array)
        # corpus.json is written last: a folder is complete only with it (write_folder renames it whole anyway)
        (target / "corpus.json").write_text(json.dumps({
            "format": SNAPSHOT_FORMAT, "terms": TERMS_VERSION, "model": model, "fingerprint": corpus.fingerprint,
            "ids": corpus.ids,
            "meta_keys": keys, "meta_values": values, "vocabulary": vocabulary, "doc_fields": corpus.doc_fields,
            "topic_terms": sorted(corpus.topic_terms), "children": sorted(corpus.children.items()),
            "linked": sorted(corpus.linked.items())}))

    write_folder(folder, write, stale="snapshot-*")


def load_saved_corpus(folder: Path, model: str, cache_dir: Path) -> Corpus | None:
    """A corpus saved by save_corpus for this model, memory-mapped, or None (absent, another model,
    another format, damaged)."""
    try:
        saved = json.loads((folder / "corpus.json").read_text())
        if saved.get("format") != SNAPSHOT_FORMAT or saved.get("model") != model \
                or saved.get("terms") != TERMS_VERSION:  # term columns made with other stopwords
            return None
        # Plain arrays over the mapped memory: np.memmap's own indexing costs ~15 µs a call, a tenth of a query.
        arrays = {path.stem: np.asarray(np.load(path, mmap_mode="r")) for path in folder.glob("*.npy")}
        texts = TextColumn(arrays["texts"], np.asarray(arrays["text_offsets"]))
        vocabulary: list[str] = saved["vocabulary"]
        ids: list[str] = saved["ids"]
        sentence_rows = arrays["sentences"]
        prepared = Prepared(
            children={int(row): rows for row, rows in saved["children"]},
            linked={int(row): int(to) for row, to in saved["linked"]},
            term_sets=TermColumn(vocabulary, arrays["chunk_term_pointers"], arrays["chunk_terms"]),
            sentence_terms=TermColumn(vocabulary, arrays["sentence_term_pointers"], arrays["sentence_terms"]),
            doc_of=np.asarray(arrays["doc_of"]).tolist(), doc_fields=saved["doc_fields"],
            topic_terms=set(saved["topic_terms"]),
            doc_terms={name: TermColumn(vocabulary, arrays[f"doc_term_pointers_{name}"], arrays[f"doc_terms_{name}"])
                       for name in DOC_FIELDS})
        metas = MetaColumns(saved["meta_keys"], saved["meta_values"], np.asarray(arrays["meta_codes"]).T.tolist())
    except (OSError, ValueError, KeyError, IndexError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("ignoring the damaged snapshot %s (%s); reading the index instead", folder, exc)
        return None
    if not (len(metas) == len(texts) == len(ids) == len(arrays["vectors"])):
        return None
    corpus = Corpus(ids, texts, metas, arrays["vectors"], SentenceColumn(sentence_rows, texts),
                    arrays["sentence_vectors"], saved["fingerprint"], prepared=prepared)
    corpus.bm25 = bm25_index(corpus, cache_dir)
    return corpus
