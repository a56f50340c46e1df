"""The ingest pipeline: load → clean → chunk → embed what changed → write, under a lock."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from filelock import FileLock, Timeout
from pydantic import BaseModel, Field

from core.chunk_meta import SentenceMeta
from core.errors import DestructiveIngestError, DiskFullError, IndexLockedError, KBError, is_disk_full
from core.settings import Settings, SourceFolder
from core.text_units import sentence_spans
from ingest.chunk import CHUNK_FORMAT, Chunker, ChunkLimits
from ingest.clean import RuleSet, load_rules, remove_non_knowledge
from ingest.embed import Embedder, Vectors
from ingest.hostile import addressed_to_assistant
from ingest.index import SCHEMA_VERSION, IndexStore, ManifestEntry
from ingest.load import Selection, load_documents
from ingest.markdown import parse_sections
from ingest.records import Chunk, Document, Exclusion, Skipped, document_key
from ingest.sentences import answer_spans, encode_sentences, refill_cut_spans
from ingest.tables import row_spans

Progress = Callable[[str, int, int], None]  # (stage: reading | chunking | embedding | writing, done, total)
Writer = Callable[[list[Chunk], Vectors, dict[str, SentenceMeta]], None]


class SkippedFile(BaseModel):
    path: str
    reason: str
    detail: str


class ExcludedSpan(BaseModel):
    source: str
    lines: str
    section: str
    rule: str
    reason: str


class IngestReport(BaseModel):
    documents_seen: int = 0
    documents_changed: int = 0
    documents_unchanged: int = 0
    documents_removed: int = 0
    documents_skipped: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    chunks_added: int = 0
    chunks_deleted: int = 0
    chunks_unchanged: int = 0
    templates_added: int = 0
    excluded: list[ExcludedSpan] = Field(default_factory=list)
    model_loaded: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0
    dry_run: bool = False
    left_out: dict[str, int] = Field(default_factory=dict, description="files not read, by reason")
    changed: list[str] = Field(default_factory=list, description="documents (re)embedded, or that would be")
    removed: list[str] = Field(default_factory=list, description="documents removed, or that would be")
    sources_removed: dict[str, int] = Field(default_factory=dict, description="source names no longer "
                                            "configured whose documents were (or would be) removed: their count")
    files_read: int = 0
    load_seconds: float = Field(0.0, description="finding, reading and converting files to markdown")
    chunk_seconds: float = Field(0.0, description="cleaning and chunking the changed documents")
    write_seconds: float = Field(0.0, description="writing chunks and vectors to the index")
    index_version: int = 0


@dataclass
class _Plan:
    doc: Document
    doc_hash: str
    chunks: list[Chunk]
    existing: set[str] = field(default_factory=set)

    @property
    def new(self) -> list[Chunk]:
        return [c for c in self.chunks if c.id not in self.existing]


def config_fingerprint(settings: Settings, rules: RuleSet) -> str:
    """What besides the text decides a document's chunks; a change re-chunks every document."""
    parts = [str(SCHEMA_VERSION), CHUNK_FORMAT, settings.embedding_model, str(settings.ingest.max_chunk_tokens),
             str(settings.ingest.target_chunk_tokens), str(settings.ingest.min_template_lines), rules.model_dump_json()]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


class Ingestor:
    def __init__(self, settings: Settings, embedder: Embedder, progress: Progress | None = None,
                 prune: bool = False, dry_run: bool = False) -> None:
        self.settings = settings
        self.embedder = embedder
        self.progress = progress or (lambda stage, done, total: None)
        self.prune = prune
        self.dry_run = dry_run

    def run(self, rebuild: bool = False) -> IngestReport:
        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.settings.lock_file))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise IndexLockedError(f"another `kb ingest` is writing {self.settings.index_dir} (lock "
                                   f"{self.settings.lock_file}); wait for it to finish") from None
        try:
            return self._run_locked(rebuild)
        finally:
            lock.release()

    def _run_locked(self, rebuild: bool) -> IngestReport:
        started = time.perf_counter()
        store: IndexStore | None = None
        try:
            store = IndexStore.open(self.settings, self.embedder.name)
            report = self._ingest(store, rebuild)
        except KBError:
            raise
        except Exception as exc:
            if is_disk_full(exc, self.settings.index_dir):
                raise DiskFullError(f"the disk holding {self.settings.index_dir} is full ({type(exc).__name__}: "
                                    f"{exc}); free some space and run `kb ingest` again: it finishes the "
                                    "interrupted work, and the index serves its last version meanwhile") from exc
            raise
        finally:
            if store is not None:
                store.close()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _ingest(self, store: IndexStore, rebuild: bool) -> IngestReport:
        rules = load_rules(self.settings.ingest.exclude_rules)
        sources = self.settings.named_sources()
        started = time.perf_counter()
        selection = Selection(tuple(self.settings.ingest.include), tuple(self.settings.ingest.exclude))
        loaded = load_documents(sources, self.settings.ingest.max_file_bytes,
                                lambda done, total: self.progress("reading", done, total), selection)
        report = IngestReport(documents_seen=len(loaded.documents) + len(loaded.skipped), dry_run=self.dry_run)
        report.load_seconds = round(time.perf_counter() - started, 3)
        report.files_read = report.documents_seen
        report.skipped = [SkippedFile(path=_shown(s.source_name, s.path, sources), reason=s.reason, detail=s.detail)
                          for s in loaded.skipped]
        report.documents_skipped = len(loaded.skipped)
        report.warnings = [str(n) for n in loaded.notices]
        report.left_out = dict(loaded.left_out)
        documents = self._knowledge(loaded.documents, rules, report)
        live = store.manifest()
        present = {d.key for d in documents} | {s.key for s in loaded.skipped}
        renamed = _unnamed_now_named(live, documents, loaded.skipped)
        if renamed:
            report.warnings.append(f"the index predates named sources: {len(renamed)} documents are stored again "
                                   "under their source's name (once; later ingests reuse them)")
        report.removed = sorted(set(live) - present - renamed)
        given = [s.name for s in sources]
        report.sources_removed = dict(sorted(Counter(
            live[key].source_name for key in report.removed
            if live[key].source_name and live[key].source_name not in given).items()))
        refusal = self._destruction(live, report, loaded.documents, given)
        if refusal and self.dry_run:
            report.warnings.append(f"without --prune, {refusal}")
        elif refusal:
            raise DestructiveIngestError(f"{refusal}; check --source, or pass --prune to remove them "
                                         "(--dry-run shows the plan)")
        if rebuild and not self.dry_run:
            store.start_rebuild()
        else:
            store.check_model()
        manifest = {} if rebuild else live
        plans = self._plan(documents, manifest, config_fingerprint(self.settings, rules), rules, store, report)
        report.changed = [plan.doc.key for plan in plans]
        report.documents_removed = len(report.removed)
        if self.dry_run:
            return report
        if plans or report.removed or renamed or rebuild:
            store.begin_write()
            self._embed_and_write(plans, store, report)
            self._remove(manifest, report.removed, store, report)
            self._remove(manifest, sorted(renamed), store, report)  # stored again under their new keys
            report.index_version = store.publish().version
        else:
            report.index_version = store.head().version
        return report

    def _destruction(self, live: dict[str, ManifestEntry], report: IngestReport, loaded: list[Document],
                     given: list[str]) -> str:
        """Why this ingest must not run without --prune, or "": dropping most of the index, or all a
        source folder gave, is what an empty or mistyped --source looks like; dropping a whole named
        source is what a forgotten --source (or a shell without KB_SOURCES) looks like."""
        removed = report.removed
        if self.prune or not removed:
            return ""
        empty = [str(root) for root in self.settings.sources if not any(d.root == root for d in loaded)]
        if len(removed) * 2 <= len(live) and not empty and not report.sources_removed:
            return ""
        shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
        why = []
        if report.sources_removed:
            gone = ", ".join(f"{name!r} ({count} document{'s' * (count != 1)})"
                            for name, count in report.sources_removed.items())
            why.append(f"the source {gone} is not among the sources given ({', '.join(given)}; add it back with "
                       "--source DIR=NAME)")
        if empty:
            why.append(f"the source folder {', '.join(empty)} has no documents")
        return (f"this ingest would remove {len(removed)} of the {len(live)} indexed documents ({shown}) because "
                f"{' and '.join(why) or 'the sources no longer have them'}")

    @staticmethod
    def _knowledge(documents: list[Document], rules: RuleSet, report: IngestReport) -> list[Document]:
        kept = []
        covered = {root: rules.covers(root) for root in {doc.root for doc in documents}}
        for doc in documents:
            if covered[doc.root] and rules.excludes_file(doc.source):
                lines = f"1-{doc.body.count(chr(10)) + 1}"
                report.excluded.append(ExcludedSpan(source=doc.source, lines=lines, section="(whole file)",
                                                    rule="files", reason="listed under files: in the rules"))
            else:
                kept.append(doc)
        return kept

    def _plan(self, documents: list[Document], manifest: dict[str, ManifestEntry], fingerprint: str,
              rules: RuleSet, store: IndexStore, report: IngestReport) -> list[_Plan]:
        chunker: Chunker | None = None
        plans = []
        changed: list[tuple[Document, str]] = []
        for doc in documents:
            doc_hash = hashlib.sha256(f"{doc.content_hash}:{fingerprint}".encode()).hexdigest()[:24]
            entry = manifest.get(doc.key)
            if entry and entry.doc_hash == doc_hash and entry.status == "done":
                report.documents_unchanged += 1
                report.chunks_unchanged += len(entry.chunk_ids)
                continue
            changed.append((doc, doc_hash))
        started = time.perf_counter()
        stored = store.stored_ids([(doc.source_name, doc.source) for doc, _ in changed])
        for done, (doc, doc_hash) in enumerate(changed, start=1):
            chunker = chunker or Chunker(self.embedder.count_tokens, self._limits())
            cleaned = remove_non_knowledge(doc.source, parse_sections(doc.body), rules)
            report.excluded.extend(_excluded(e) for e in cleaned.exclusions)
            plans.append(_Plan(doc, doc_hash, chunker.chunk(doc, cleaned.sections), stored[doc.key]))
            report.excluded.extend(_addressed(plans[-1].chunks))
            self.progress("chunking", done, len(changed))
        report.documents_changed = len(plans)
        report.chunk_seconds = round(time.perf_counter() - started, 3)
        return plans

    def _limits(self) -> ChunkLimits:
        max_tokens = min(self.settings.ingest.max_chunk_tokens, self.embedder.max_tokens)
        return ChunkLimits(max_tokens, min(self.settings.ingest.target_chunk_tokens, max_tokens),
                           self.settings.ingest.min_template_lines)

    def _embed_and_write(self, plans: list[_Plan], store: IndexStore, report: IngestReport) -> None:
        """Few large writes (Chroma pays per call), ordered so a crash at any point is recoverable:
        all changed documents go pending first, then new chunks, then done marks."""
        if not plans:
            return
        pending = [c for plan in plans for c in plan.new]
        hashes = {plan.doc.key: plan.doc_hash for plan in plans}
        store.mark([_entry(plan, "pending") for plan in plans])
        if pending:
            self._embed(pending, report, lambda chunks, vectors, extra: store.upsert(
                chunks, vectors, hashes, len(vectors[0]), extra))
        kept = [c for plan in plans for c in plan.chunks if c.id in plan.existing]
        store.update_metadata(kept, hashes)
        stale = sorted(i for plan in plans for i in plan.existing - {c.id for c in plan.chunks})
        store.delete(stale)
        store.mark([_entry(plan, "done") for plan in plans])
        report.chunks_added += len(pending)
        report.chunks_unchanged += len(kept)
        report.chunks_deleted += len(stale)
        report.templates_added += sum(c.kind == "template" for c in pending)

    def _embed(self, chunks: list[Chunk], report: IngestReport, write: Writer) -> None:
        """Embed chunks (and, from the same forward pass, their answer sentences) batch by batch,
        then hand each batch to `write`."""
        started = time.perf_counter()
        report.model_loaded = True
        batch = max(self.settings.ingest.embed_batch_size * 4, 256)  # bounds memory for token vectors
        # Longest first by the model's own token count, across all chunks: each block's batches then hold
        # texts of nearly one length. Ordered by characters (code and prose differ in characters per token),
        # the repository bench padded 3.9% of its tokens instead of 0.8%, and embedding took 3% longer.
        counts = self.embedder.count_tokens([c.embed_text for c in chunks])
        ordered = [chunks[i] for i in sorted(range(len(chunks)), key=lambda i: -counts[i])]
        self.progress("embedding", 0, len(chunks))
        embedded = []
        for start in range(0, len(ordered), batch):
            part = ordered[start : start + batch]
            spans = [_stored_spans(c) for c in part]
            shifted = [_model_spans(c, row) for c, row in zip(part, spans, strict=True)]
            spans = [row if len(row) == len(model) else [] for row, model in zip(spans, shifted, strict=True)]
            texts = [c.embed_text for c in part]
            vectors, span_vectors = self.embedder.embed_with_spans(texts, shifted)
            refill_cut_spans(self.embedder, texts, shifted, span_vectors,
                             [_context_end(c, model) for c, model in zip(part, shifted, strict=True)])
            extra = {c.id: encode_sentences(row, pooled)
                     for c, row, pooled in zip(part, spans, span_vectors, strict=True) if row}
            embedded.append((part, vectors, extra))  # float32, not lists of Python floats: 8x smaller
            self.progress("embedding", min(start + batch, len(chunks)), len(chunks))
        report.embed_seconds = round(time.perf_counter() - started, 3)
        # Written after embedding, not alongside it: on two cores Chroma's writes slow the model more
        # than they save (measured with `make bench`).
        started = time.perf_counter()
        written = 0
        for part, vectors, extra in embedded:
            write(part, vectors, extra)
            written += len(part)
            self.progress("writing", written, len(chunks))
        report.write_seconds = round(time.perf_counter() - started, 3)

    @staticmethod
    def _remove(manifest: dict[str, ManifestEntry], removed: list[str], store: IndexStore,
                report: IngestReport) -> None:
        """Documents gone from the sources lose their chunks; skipped ones keep their last good version.
        (After a rebuild the new generation never had them: nothing to delete.)"""
        gone = [key for key in removed if key in manifest]
        if not gone:
            return
        stored = store.stored_ids([(manifest[key].source_name, manifest[key].source) for key in gone])
        store.delete(sorted(i for ids in stored.values() for i in ids))
        store.forget(gone)
        report.chunks_deleted += sum(len(ids) for ids in stored.values())


def _stored_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The spans of a chunk an answer may quote: prose sentences, or a table's body rows."""
    if chunk.kind == "prose":
        return answer_spans(chunk.text)
    return row_spans(chunk.text) if chunk.kind == "table" else []


def _model_spans(chunk: Chunk, stored: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The same spans in the text the model sees: after the heading line, and for a table in its
    compacted form (whose rows come in the same order)."""
    if chunk.kind == "table":
        shown = chunk.embed_text.split("\n", 1)[1] if "\n" in chunk.embed_text else chunk.embed_text
        shift = len(chunk.embed_text) - len(shown)
        rows = row_spans(shown)
        return [(a + shift, b + shift) for a, b in rows] if len(rows) == len(stored) else []
    shift = len(chunk.embed_text) - len(chunk.text)
    return [(a + shift, b + shift) for a, b in stored]


def _context_end(chunk: Chunk, model: list[tuple[int, int]]) -> int:
    """Where a chunk's context ends in the text the model sees: before a table's first body row (its
    heading line and header), or after a prose chunk's heading line."""
    if chunk.kind == "table" and model:
        return model[0][0]
    return len(chunk.embed_text) - len(chunk.text)


def _entry(plan: _Plan, status: str) -> ManifestEntry:
    return ManifestEntry(plan.doc.source, plan.doc_hash, status, tuple(c.id for c in plan.chunks), plan.doc.title,
                         plan.doc.kind, plan.doc.source_name)


def _unnamed_now_named(live: dict[str, ManifestEntry], documents: list[Document], skipped: list[Skipped]) -> set[str]:
    """Keys of records written before sources had names whose path a named source now gives: the same
    document under its new key, not a removal."""
    paths = {d.source for d in documents} | {s.path for s in skipped}
    return {key for key, entry in live.items() if not entry.source_name and entry.source in paths}


def _shown(name: str, path: str, sources: list[SourceFolder]) -> str:
    """A path as the user should read it: bare with one source, `name:path` with several."""
    return path if len(sources) == 1 else document_key(name, path)


def _addressed(chunks: list[Chunk]) -> list[ExcludedSpan]:
    """Sentences addressed to an assistant: kept in the chunk's text, never quoted as a point."""
    found = []
    for chunk in chunks:
        if chunk.kind != "prose":
            continue
        for a, b in sentence_spans(chunk.text):
            reason = addressed_to_assistant(chunk.text[a:b])
            if reason:
                line = chunk.start_line + chunk.text.count("\n", 0, a)
                found.append(ExcludedSpan(source=chunk.source, lines=f"{line}-{line}", section=chunk.section,
                                          rule="assistant-address", reason=f"{reason}: {chunk.text[a:b][:80]!r}"))
    return found


def _excluded(exclusion: Exclusion) -> ExcludedSpan:
    return ExcludedSpan(source=exclusion.source, lines=f"{exclusion.start_line}-{exclusion.end_line}",
                        section=exclusion.heading, rule=exclusion.rule, reason=exclusion.reason)


def ingest(settings: Settings, embedder: Embedder, rebuild: bool = False, progress: Progress | None = None,
           prune: bool = False, dry_run: bool = False) -> IngestReport:
    return Ingestor(settings, embedder, progress, prune, dry_run).run(rebuild)
