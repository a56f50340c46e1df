"""Synthetic corpora built from `kb/` for `make bench`: the same kind of text at 20 to 100 times the size.

Two forms, both made of copies whose words are randomly substituted (each copy has its own
substitution map, drawn from the knowledge base's own vocabulary by frequency), so BM25 and
dense search see realistic variety, never exact duplicates:

- `rewrite_documents` writes rewritten markdown files for the real ingest pipeline to embed
  (ingest throughput at scale).
- `build_index` writes a large index straight into Chroma from an ingested `kb/` index: rewritten
  chunk texts with perturbed copies of their real chunk and sentence vectors (the model is never
  run, so 100k chunks take minutes, not hours). It is cached under the index folder, keyed by
  the `kb/` index's content and these parameters, and reused until either changes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from core.settings import Settings
from ingest.index import IndexStore, ManifestEntry
from ingest.sentences import decode_sentences, encode_sentences

SYNTHETIC_VERSION = "1"
SUBSTITUTED = 0.2  # share of a copy's vocabulary replaced by other words
NOISE = 0.5  # norm of the noise added to a unit vector: cosine to the original about 0.9
_WORD = re.compile(r"\b[A-Za-z][a-z]{3,}\b")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


class Rewriter:
    """Random word substitutions drawn from a vocabulary by frequency; one map per copy."""

    def __init__(self, texts: Iterable[str], seed: int) -> None:
        counts = Counter(w.lower() for text in texts for w in _WORD.findall(text))
        self.words = sorted(counts)
        self.weights = [counts[w] for w in self.words]
        self.seed = seed

    def mapping(self, copy: int) -> dict[str, str]:
        rng = random.Random(f"{self.seed}:{copy}")
        chosen = rng.sample(self.words, k=int(len(self.words) * SUBSTITUTED))
        replacements = rng.choices(self.words, weights=self.weights, k=len(chosen))
        return dict(zip(chosen, replacements, strict=True))

    @staticmethod
    def apply(text: str, mapping: dict[str, str]) -> str:
        def substitute(match: re.Match[str]) -> str:
            word = match.group(0)
            new = mapping.get(word.lower())
            if new is None:
                return word
            return new.capitalize() if word[0].isupper() else new

        return _WORD.sub(substitute, text)


def rewrite_documents(root: Path, target: Path, copies: int, seed: int = 11) -> list[Path]:
    """`copies` rewritten copies of the pattern and reference documents under `root`, written to
    target/cNNN/...; front matter is kept as it is (it is validated), only the body changes."""
    files = sorted(p for folder in ("patterns", "reference") for p in (root / folder).rglob("*.md"))
    texts = {path: path.read_text(encoding="utf-8") for path in files}
    rewriter = Rewriter(texts.values(), seed)
    written = []
    for copy in range(1, copies + 1):
        mapping = rewriter.mapping(copy)
        for path, text in texts.items():
            head = _FRONT_MATTER.match(text)
            cut = head.end() if head else 0
            out = target / f"c{copy:03d}" / path.relative_to(root)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text[:cut] + Rewriter.apply(text[cut:], mapping), encoding="utf-8")
            written.append(out)
    return written


def perturb(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors moved a random step of length NOISE, renormalised."""
    noise = rng.standard_normal(vectors.shape).astype(np.float32)
    noise *= NOISE / np.maximum(np.linalg.norm(noise, axis=1, keepdims=True), 1e-9)
    moved: np.ndarray = vectors + noise
    moved /= np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-9)
    return moved


Spans = list[tuple[int, int]]


def rewrite_spans(text: str, spans: Spans, mapping: dict[str, str]) -> tuple[str, Spans]:
    """The text rewritten piece by piece between span edges, and where each span now lies."""
    cuts = sorted({0, len(text), *(a for a, _ in spans), *(b for _, b in spans)})
    moved: dict[int, int] = {0: 0}
    pieces = []
    position = 0
    for start, end in itertools.pairwise(cuts):
        piece = Rewriter.apply(text[start:end], mapping)
        pieces.append(piece)
        position += len(piece)
        moved[end] = position
    return "".join(pieces), [(moved[a], moved[b]) for a, b in spans]


def _copied_source(source: str, copy: int) -> str:
    return f"synthetic/c{copy:03d}/{source}"


def _copied_id(chunk_id: str, copy: int) -> str:
    return f"{chunk_id}~{copy}"


def _copy_chunk(chunk_id: str, text: str, meta: dict[str, Any], copy: int, mapping: dict[str, str],
                rng: np.random.Generator, dimension: int) -> tuple[str, str, dict[str, Any]]:
    spans, matrix = decode_sentences(meta, dimension)
    new_text, new_spans = rewrite_spans(text, spans, mapping)
    new = {**meta, "source": _copied_source(str(meta["source"]), copy),
           "title": Rewriter.apply(str(meta["title"]), mapping),
           "section": Rewriter.apply(str(meta["section"]), mapping)}
    if meta.get("parent_id"):
        new["parent_id"] = _copied_id(str(meta["parent_id"]), copy)
    if meta.get("doc_summary"):
        new["doc_summary"] = Rewriter.apply(str(meta["doc_summary"]), mapping)
    if spans:
        new.update(encode_sentences(new_spans, list(perturb(matrix, rng))))
    return _copied_id(chunk_id, copy), new_text, new


def synthetic_key(source: IndexStore, total: int, seed: int) -> str:
    entries = sorted((m.source, m.doc_hash) for m in source.manifest().values())
    text = json.dumps([SYNTHETIC_VERSION, total, seed, NOISE, SUBSTITUTED, entries])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_index(source: Settings, cache_root: Path, total: int = 100_000, seed: int = 11,
                progress: Callable[[int], None] | None = None) -> Settings:
    """Settings for an index of at least `total` chunks: the source index's own chunks, then
    rewritten copies of its non-persona chunks. Built once; older builds beside it are dropped."""
    store = IndexStore.open(source, source.embedding_model)
    try:
        folder = cache_root / f"synthetic-{total}-{synthetic_key(store, total, seed)}"
        settings = source.model_copy(update={"index_dir": folder})
        if (folder / "built.json").is_file():
            return settings
        for old in cache_root.glob(f"synthetic-{total}-*"):
            shutil.rmtree(old, ignore_errors=True)
        got = store.chunks().get(include=["documents", "metadatas", "embeddings"])
        manifest = store.manifest()
    finally:
        store.close()
    _write(settings, got, manifest, total, seed, progress or (lambda n: None))
    (folder / "built.json").write_text(json.dumps({"total": total, "seed": seed, "version": SYNTHETIC_VERSION}))
    return settings


def _write(settings: Settings, got: Any, manifest: dict[str, ManifestEntry], total: int, seed: int,
           progress: Callable[[int], None]) -> None:
    ids: list[str] = list(got["ids"])
    texts: list[str] = list(got["documents"])
    metas: list[dict[str, Any]] = [dict(m) for m in got["metadatas"]]
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    dimension = vectors.shape[1]
    copyable = [i for i, m in enumerate(metas) if m.get("doc_kind") != "persona"]
    copies = math.ceil(max(0, total - len(ids)) / max(1, len(copyable)))
    rewriter = Rewriter(texts, seed)
    rng = np.random.default_rng(seed)
    store = IndexStore.open(settings, settings.embedding_model)
    try:
        collection = store.chunks(dimension)
        store.begin_write()
        _upsert(collection, ids, texts, metas, vectors, store.batch_size)
        store.mark(list(manifest.values()))
        written = len(ids)
        for copy in range(1, copies + 1):
            mapping = rewriter.mapping(copy)
            made = [_copy_chunk(ids[i], texts[i], metas[i], copy, mapping, rng, dimension) for i in copyable]
            _upsert(collection, [m[0] for m in made], [m[1] for m in made], [m[2] for m in made],
                    perturb(vectors[copyable], rng), store.batch_size)
            store.mark([ManifestEntry(_copied_source(e.source, copy), e.doc_hash, "done",
                                      tuple(_copied_id(c, copy) for c in e.chunk_ids), e.title, e.kind)
                        for e in manifest.values() if e.kind != "persona"])
            written += len(made)
            progress(written)
        store.publish()
    finally:
        store.close()


def _upsert(collection: Any, ids: list[str], texts: list[str], metas: list[dict[str, Any]], vectors: np.ndarray,
            batch: int) -> None:
    for start in range(0, len(ids), batch):
        part = slice(start, start + batch)
        collection.upsert(ids=ids[part], documents=texts[part], metadatas=metas[part], embeddings=vectors[part])
