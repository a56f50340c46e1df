"""Hybrid retrieval: dense search plus BM25, fused by reciprocal rank, then diversified.

Dense search is exact, over the snapshot's own normalised vectors: one matrix-vector product and
a cached filter mask per query. It never calls Chroma, so a request cannot fail on whatever an
ingest is doing to the collections, and a metadata filter costs nothing per query. With a Chroma
server (KB_CHROMA_URL) the server's HNSW index does the dense search instead (`bot.server_dense`),
and the exact search answers whenever the server cannot.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from bot.columns import MetaColumns
from bot.corpus import Corpus
from bot.fields import FieldIndex
from bot.text import terms
from core.chunk_meta import ChunkMeta
from core.providers import check_provider
from core.settings import RetrieveSettings
from ingest.embed import Embedder, Vectors

Mode = Literal["hybrid", "dense", "bm25"]
_WHY = re.compile(r"\bwhy\b", re.I)


class Filters(BaseModel):
    """Metadata filters; None means any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str | None = None
    doc_kind: str | None = None
    kind: str | None = None
    source: str | None = None
    source_name: str | None = None  # the name of a source folder (`kb ingest --source DIR=NAME`)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        return None if value is None else check_provider(value)

    @cached_property
    def rules(self) -> tuple[tuple[str, Callable[[Any], bool]], ...]:
        """The filters as (metadata key, test of its value): a chunk is accepted when it has every key
        and passes every test. The persona describes the bot itself; it is configuration, not an
        answer source, so it is left out unless `doc_kind` asks for it."""
        rules: list[tuple[str, Callable[[Any], bool]]] = [] if self.doc_kind else [
            ("doc_kind", lambda value: value != "persona")]
        for key, wanted in (("doc_kind", self.doc_kind), ("kind", self.kind), ("source", self.source),
                            ("source_name", self.source_name)):
            if wanted:
                rules.append((key, partial(operator.eq, wanted)))
        if self.provider:
            provider = self.provider
            rules.append(("providers", lambda value: provider in value))
        return tuple(rules)

    def accepts(self, meta: ChunkMeta) -> bool:
        return all(key in meta and test(meta[key]) for key, test in self.rules)  # type: ignore[literal-required]

    def mask(self, metas: Sequence[ChunkMeta]) -> Vectors:
        """`accepts` over every row at once; over compact columns, each rule tests each distinct value
        once (100k chunks: a few ms instead of a quarter of a second, which a cold `kb ask` pays)."""
        if not isinstance(metas, MetaColumns):
            return np.fromiter((self.accepts(m) for m in metas), dtype=bool, count=len(metas))
        mask = np.ones(len(metas), dtype=bool)
        for key, test in self.rules:
            mask &= metas.where(key, test)
        return mask


_NO_FILTER = Filters()


class NearestChunks(Protocol):
    """Dense search done elsewhere (a Chroma server): rows and cosines, best first; None when it cannot answer."""

    error: str  # why the last search failed; "" when it did not

    def nearest(self, vector: Vectors, n: int) -> list[tuple[int, float]] | None: ...


@dataclass(frozen=True)
class Hit:
    row: int  # the chunk's row in the corpus
    score: float  # fused (reciprocal rank) score
    dense: float  # cosine similarity to the query
    lexical: float  # BM25 score
    rank: int
    companion: bool = False  # brought along by a related hit, not retrieved for itself


@dataclass(frozen=True)
class Retrieval:
    query: str
    vector: Vectors
    hits: list[Hit]


class HybridRetriever:
    def __init__(self, corpus: Corpus, embedder: Embedder, settings: RetrieveSettings,
                 server: NearestChunks | None = None) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.settings = settings
        self.server = server  # dense search on a Chroma server, with the snapshot's as the fallback
        weights = {"title": settings.title_weight, "tags": settings.tags_weight, "summary": settings.summary_weight,
                   "headings": settings.headings_weight}
        self.documents = FieldIndex(corpus.doc_terms, weights, corpus.idf)
        self._titles = corpus.doc_terms["title"]  # document number -> its title's terms
        self._masks: dict[Filters, Vectors] = {}

    def embed_query(self, query: str) -> Vectors:
        return np.asarray(self.embedder.embed([query])[0], dtype=np.float32)

    def dense(self, vector: Vectors, n: int, filters: Filters) -> list[tuple[int, float]]:
        if not len(self.corpus):
            return []
        if self.server is not None:
            found = self._dense_on_server(self.server, vector, n, filters)
            if found is not None:
                return found
        scores = np.where(self._mask(filters), self.corpus.vectors @ vector, -np.inf)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _dense_on_server(self, server: NearestChunks, vector: Vectors, n: int,
                         filters: Filters) -> list[tuple[int, float]] | None:
        """The server's nearest chunks that the filters accept, or None when the exact search must answer:
        the server failed, or a user's filter left fewer than n of an over-fetch that did not reach the end."""
        factor = self.settings.server_overfetch if filters == _NO_FILTER else self.settings.filtered_overfetch
        asked = min(n * factor, len(self.corpus))
        found = server.nearest(vector, asked)
        if found is None:
            return None
        mask = self._mask(filters)
        kept = [(row, score) for row, score in found if mask[row]][:n]
        return None if len(kept) < n and len(found) >= asked else kept

    def _mask(self, filters: Filters) -> Vectors:
        """Which chunks the filters accept; computed once per distinct filter (few: the UI offers a handful)."""
        mask = self._masks.get(filters)
        if mask is None:
            mask = filters.mask(self.corpus.metas)
            if len(self._masks) < 64:
                self._masks[filters] = mask
        return mask

    def lexical(self, query: str, n: int, filters: Filters) -> list[tuple[int, float]]:
        bm25 = self.corpus.bm25
        if bm25 is None:
            return []
        wanted = set(terms(query))
        known = [t for t in wanted if t in bm25.vocab_dict]
        if not known:
            return []
        scores = bm25.get_scores(known)
        order = np.argsort(-scores)
        # Minimum should-match: a chunk sharing one common word with a long question is noise
        # that would otherwise get a full vote in the fusion.
        needed = max(1, min(math.ceil(self.settings.min_should_match * len(wanted)), self.settings.max_should_match))
        ranked = [(int(i), float(scores[i])) for i in order[: n * 4] if scores[i] > 0]
        return [(i, s) for i, s in ranked if filters.accepts(self.corpus.metas[i])
                and len(wanted & self.corpus.term_sets[i]) >= needed][:n]

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, mode: Mode = "hybrid",
               vector: Vectors | None = None) -> Retrieval:
        k = k or self.settings.k
        filters = filters or Filters()
        vector = self.embed_query(query) if vector is None else vector
        n = self.settings.candidates
        dense = self.dense(vector, n, filters) if mode != "bm25" else []
        lexical = self.lexical(query, n, filters) if mode != "dense" else []
        wanted = terms(query)
        documents = self._document_ranking(wanted, filters) if mode == "hybrid" else []
        fused = self._fuse(dense, lexical, vector, documents, filters)
        topic = self._topic(documents, self.documents.key_term(wanted)) if documents else None
        if topic is not None:
            fused = self._topic_first(fused, topic)
        if mode == "hybrid" and self.settings.rerank_depth > 1:
            fused = self._rerank(fused, set(wanted), vector, _WHY.search(query) is not None, topic)
        hits = self._with_companions(self._diversify(fused, k), filters)
        return Retrieval(query, vector, hits + self._document_sections(hits, vector, filters))

    def _document_ranking(self, wanted: list[str], filters: Filters) -> list[tuple[int, float]]:
        """Documents ranked by their fields (title, tags, summary, headings), best first, with their
        score as a share of the best one's."""
        key = self.documents.key_term(wanted)
        scores = self.documents.scores(wanted, {key: self.settings.key_term_boost} if key else None)
        order = [int(d) for d in np.argsort(-scores) if scores[d] > 0]
        top = float(scores[order[0]]) if order else 1.0
        return [(d, float(scores[d]) / top) for d in order[: self.settings.candidates]
                if any(filters.accepts(self.corpus.metas[r]) for r in self.corpus.doc_rows[d][:1])]

    def _topic(self, documents: list[tuple[int, float]], key: str | None) -> int | None:
        """The document a question is about, when one stands out: its title holds the question's
        rarest word and its field score leads the next document's by a clear margin. Sections of
        other documents that merely use that word (an SQS pattern that says "idempotent
        consumers") answer a different question."""
        topic, _ = documents[0]
        runner_up = documents[1][1] if len(documents) > 1 else 0.0
        if key is None or key not in self._titles[topic] or runner_up * self.settings.topic_margin > 1.0:
            return None
        return topic

    def _topic_first(self, hits: list[Hit], topic: int) -> list[Hit]:
        if self.settings.topic_bonus <= 0:
            return hits
        bonus = self.settings.topic_bonus / (self.settings.rrf_k + 1)
        scored = [replace(h, score=h.score + bonus) if self.corpus.doc_of[h.row] == topic else h for h in hits]
        ordered = sorted(scored, key=lambda h: -h.score)
        return [replace(h, rank=rank) for rank, h in enumerate(ordered)]

    def _expand(self, documents: list[tuple[int, float]], seen: set[int], vector: Vectors,
                filters: Filters) -> list[int]:
        """The best chunk (by meaning) of each top document that neither retriever brought."""
        extra = []
        for doc, _ in documents[: self.settings.doc_expand]:
            rows = [r for r in self.corpus.doc_rows[doc] if filters.accepts(self.corpus.metas[r])]
            if rows and not seen.intersection(rows):
                extra.append(max(rows, key=lambda r: float(self.corpus.vectors[r] @ vector)))
        return extra

    def _rerank(self, hits: list[Hit], wanted: set[str], vector: Vectors, why: bool, topic: int | None) -> list[Hit]:
        """Reorder the first few hits by their best single answer unit: a chunk whose one sentence
        answers the question beats a chunk that is broadly about it. Templates and tables, which have
        no sentences, use their whole vector. A background section (the problem statement, when a
        pattern applies) repeats the question's words without answering it, so it gives way to the
        section that does; but a question asking why wants the cause, which the problem states.
        (Adding the document's field score here was tried and lost on every calibration half; so did
        a bonus for templates in the language a code request names.)"""
        depth = self.settings.rerank_depth
        head, tail = hits[:depth], hits[depth:]
        if not head:
            return hits
        top = max(h.score for h in head) or 1.0
        corpus = self.corpus

        def score(hit: Hit) -> float:
            closest = corpus.closest_sentence(hit.row, vector)
            if closest is not None:
                similarity = closest
                rows = corpus.by_chunk[hit.row]
                overlap = max(len(wanted & corpus.sentence_terms[r]) for r in rows) / max(1, len(wanted))
            else:
                similarity = float(corpus.vectors[hit.row] @ vector)
                overlap = len(wanted & corpus.term_sets[hit.row]) / max(1, len(wanted))
            return (hit.score / top + self.settings.rerank_sentence * similarity
                    + self.settings.rerank_overlap * overlap - self._background(hit.row, why)
                    + self.settings.topic_rerank * (corpus.doc_of[hit.row] == topic))

        ordered = sorted(head, key=score, reverse=True) + tail
        return [replace(h, rank=rank) for rank, h in enumerate(ordered)]

    def _background(self, row: int, why: bool) -> float:
        heading = self.corpus.metas[row]["section"].split(" > ")[-1].lower()
        if not any(w in heading for w in self.settings.background_sections):
            return 0.0
        if why and any(w in heading for w in self.settings.cause_sections):
            return 0.0
        return self.settings.background_penalty

    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]], vector: Vectors,
              documents: list[tuple[int, float]], filters: Filters) -> list[Hit]:
        rrf: dict[int, float] = {}
        rrf_k = self.settings.rrf_k
        for ranking, weight in ((dense, 1.0), (lexical, self.settings.bm25_weight)):
            for rank, (row, _) in enumerate(ranking):
                rrf[row] = rrf.get(row, 0.0) + weight / (rrf_k + rank + 1)
        if documents and self.settings.doc_weight > 0:
            extra = self._expand(documents, set(rrf), vector, filters)
            for row in extra:
                rrf[row] = 0.0
            # A document's score: its field score (a share of the best document's, on the scale of a
            # first place in one ranking) plus its best chunk's; added to every chunk of it.
            field_share = dict(documents)
            best: dict[int, float] = {}
            for row, score in rrf.items():
                doc = self.corpus.doc_of[row]
                best[doc] = max(best.get(doc, 0.0), score)
            for row in rrf:
                doc = self.corpus.doc_of[row]
                fields = field_share.get(doc, 0.0) / (rrf_k + 1)
                rrf[row] += self.settings.doc_weight * (fields + best[doc])
        cosine = dict(dense)
        bm25 = dict(lexical)
        hits = []
        for rank, (row, score) in enumerate(sorted(rrf.items(), key=lambda item: -item[1])):
            cos = cosine.get(row)
            if cos is None:
                cos = float(self.corpus.vectors[row] @ vector)
            hits.append(Hit(row, score, cos, bm25.get(row, 0.0), rank))
        return hits

    def _diversify(self, hits: list[Hit], k: int) -> list[Hit]:
        """Not five chunks of one section: cap hits per section and per document."""
        per_section: Counter[tuple[int, str]] = Counter()
        per_doc: Counter[int] = Counter()
        chosen: list[Hit] = []
        for hit in hits:
            meta = self.corpus.metas[hit.row]
            doc = self.corpus.doc_of[hit.row]
            section = (doc, meta["section"])
            if per_section[section] >= self.settings.max_per_section or per_doc[doc] >= self.settings.max_per_document:
                continue
            per_section[section] += 1
            per_doc[doc] += 1
            chosen.append(hit)
            if len(chosen) == k:
                break
        return chosen

    def _siblings(self, row: int) -> list[int]:
        """The other chunks of a section that ingest split in parts: the part that states the figure
        may not be the part retrieved. Prose and tables only; templates come as templates."""
        if self.settings.section_siblings == 0:
            return []
        meta = self.corpus.metas[row]
        if meta["kind"] == "template":
            return []
        rows = [r for r in self.corpus.doc_rows[self.corpus.doc_of[row]] if r != row
                and self.corpus.metas[r]["section"] == meta["section"] and self.corpus.metas[r]["kind"] != "template"]
        # The parts next to it first: a section continues around the part retrieved.
        rows.sort(key=lambda r: abs(self.corpus.metas[r]["start_line"] - meta["start_line"]))
        return rows[: self.settings.section_siblings]

    def _document_sections(self, hits: list[Hit], vector: Vectors, filters: Filters) -> list[Hit]:
        """The closest sections (by meaning) of the first documents that the caps on sections per
        document left out, as low-scored companions of the document's first hit. Templates come
        with their prose sections instead."""
        present = {h.row for h in hits}
        first: dict[int, Hit] = {}
        for hit in hits:
            if not hit.companion:
                first.setdefault(self.corpus.doc_of[hit.row], hit)
        extra = []
        for doc, hit in list(first.items())[: self.settings.section_documents]:
            rows = [r for r in self.corpus.doc_rows[doc] if r not in present
                    and self.corpus.metas[r]["kind"] != "template" and filters.accepts(self.corpus.metas[r])]
            closeness = dict(zip(rows, self._closeness(rows, vector).tolist(), strict=True))
            for row in sorted(rows, key=lambda r: -closeness[r])[: self.settings.sections_per_document]:
                extra.append(replace(hit, row=row, score=hit.score * self.settings.section_share,
                                     dense=closeness[row], companion=True))
        return extra

    def _closeness(self, rows: list[int], vector: Vectors) -> np.ndarray:
        if self.settings.sections_by_sentence:
            return self.corpus.closeness(rows, vector)
        return np.asarray(self.corpus.vectors[rows] @ vector, dtype=np.float64)

    def _with_companions(self, hits: list[Hit], filters: Filters) -> list[Hit]:
        """A prose section brings its templates; a template brings its section's prose."""
        present = {h.row for h in hits}
        out = list(hits)
        for hit in hits:
            meta = self.corpus.metas[hit.row]
            # A README can hold many files' templates: the ones closest to this hit come first.
            related = sorted(self.corpus.children.get(hit.row, []),
                             key=lambda row: -float(self.corpus.vectors[row] @ self.corpus.vectors[hit.row]))
            related = related[: self.settings.max_companions]
            parent = self.corpus.row.get(str(meta.get("parent_id") or ""))
            if meta["kind"] == "template" and parent is not None:
                related.append(parent)
            if hit.row in self.corpus.linked:
                related.append(self.corpus.linked[hit.row])
            related += self._siblings(hit.row)
            for row in related:
                if row not in present and filters.accepts(self.corpus.metas[row]):
                    present.add(row)
                    cos = float(self.corpus.vectors[row] @ self.corpus.vectors[hit.row])
                    out.append(replace(hit, row=row, score=hit.score * self.settings.companion_share,
                                       dense=min(hit.dense, cos), companion=True))
        return out
