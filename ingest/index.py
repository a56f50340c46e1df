"""The index contract: one Chroma collection of chunks and one manifest collection of documents.

A prose chunk's metadata also carries its answer sentences: character spans (`sentences`, JSON)
and their vectors (`sentence_vectors`, base64 float16), written atomically with the chunk.

Both live in Chroma, so an embedded index and a Chroma server behave the same. A document's
manifest record is written as "pending" before its chunks change and "done" after, so a crash
at any point leaves work that the next ingest finds and finishes.

Readers and writers meet at a head record (the metadata of the `<name>-head` collection):
which generation of collections is live, a version that grows with every published change,
and whether an ingest is writing. Generation 0 is `<name>` and `<name>-manifest`; generation g
is `<name>-g<g>` and `<name>-g<g>-manifest`.

- An incremental ingest writes into the live generation: head state "writing" before its first
  write, then "ready" with version + 1 after its last.
- A rebuild writes a whole new generation beside the live one, which stays intact and readable,
  then switches the head to it in one metadata write and drops the old generation. A rebuild that
  dies half-way leaves the live index untouched; the next rebuild drops its leftovers.
- A reader that keeps a snapshot (the server) reloads when the version changes and the state is
  "ready", and keeps the snapshot only if the head is still the same once loading is done: a
  write that started meanwhile makes it try again later. Readers never see half an ingest.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from core.chunk_meta import SentenceMeta
from core.errors import IndexError_, IndexMismatchError
from core.settings import Settings
from ingest.embed import Vectors
from ingest.records import Chunk, document_key

if TYPE_CHECKING:  # chromadb costs half a second to import; a cached snapshot needs none of it
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

SCHEMA_VERSION = 2  # 2: answer sentences live in chunk metadata
_PLACEHOLDER = [1.0]  # manifest records carry no meaning in their vector


@dataclass(frozen=True)
class IndexHead:
    generation: int = 0
    version: int = 0
    state: str = "ready"  # ready | writing

    @property
    def ready(self) -> bool:
        return self.state == "ready"


@dataclass(frozen=True)
class ManifestEntry:
    source: str
    doc_hash: str
    status: str  # pending | done
    chunk_ids: tuple[str, ...]
    title: str
    kind: str
    source_name: str = ""  # empty in an index written before sources had names

    @property
    def key(self) -> str:
        return document_key(self.source_name, self.source)


def open_client(settings: Settings) -> ClientAPI:
    """An embedded client in the index folder, or an HTTP client when KB_CHROMA_URL is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_url:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        try:
            return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        except Exception:
            _forget_broken_system(str(settings.chroma_dir))
            raise
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise IndexError_(f"KB_CHROMA_URL={settings.chroma_url!r} is not an http(s) URL such as "
                          "http://127.0.0.1:8000")
    try:
        return chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 80),
                                   ssl=url.scheme == "https", settings=chroma_settings)
    except Exception as exc:  # chromadb raises plain exceptions for connection problems
        raise IndexError_(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from exc


def peek_head(settings: Settings) -> tuple[str, IndexHead] | None:
    """The head of an embedded index read straight from Chroma's SQLite file, read-only, in a few
    milliseconds and without importing chromadb: (a key naming this exact index version, the head).

    The key includes the head collection's id, a UUID made when the index was first written, so a
    deleted and rebuilt index never matches an old cache. None when there is no embedded index or
    the file does not look as expected (chromadb is pinned; the caller then asks Chroma itself).
    """
    path = settings.chroma_dir / "chroma.sqlite3"
    if settings.chroma_url or not path.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            rows = db.execute("SELECT c.name, c.id, m.key, m.str_value, m.int_value FROM collections c "
                              "LEFT JOIN collection_metadata m ON m.collection_id = c.id WHERE c.name IN (?, ?)",
                              (f"{settings.collection}-head", settings.collection)).fetchall()
    except sqlite3.Error:
        return None
    head_rows = [r for r in rows if r[0] == f"{settings.collection}-head"]
    if not head_rows:
        legacy = [r for r in rows if r[0] == settings.collection]
        return (f"{legacy[0][1]}-legacy", IndexHead()) if legacy else None
    values = {key: (text if text is not None else number) for _, _, key, text, number in head_rows if key}
    try:
        head = IndexHead(int(values["generation"]), int(values["version"]), str(values["state"]))
    except (KeyError, TypeError, ValueError):
        return None
    return f"{head_rows[0][1]}-g{head.generation}-v{head.version}", head


def _forget_broken_system(path: str) -> None:
    """Chroma caches one system per folder, even one whose start failed (a full disk): drop it, so the
    next open tries afresh instead of failing for the life of the process."""
    with contextlib.suppress(Exception):  # private API; without it only a restart recovers
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(path, None)
        SharedSystemClient._identifier_to_refcount.pop(path, None)


def chunk_collection_name(name: str, generation: int) -> str:
    """The chunk collection of one generation of the index `name` (generation 0 kept the bare name)."""
    return name if generation == 0 else f"{name}-g{generation}"


def _batches(items: Sequence[Any], size: int) -> Iterator[slice]:
    for start in range(0, len(items), size):
        yield slice(start, start + size)


class IndexStore:
    """Chunks and manifest for one collection name."""

    def __init__(self, client: ClientAPI, name: str, model_name: str) -> None:
        self.client = client
        self.name = name
        self.model_name = model_name
        self.batch_size = max(1, min(client.get_max_batch_size(), 1000))
        self._chunks: Collection | None = None
        self._manifest: Collection | None = None
        self.generation = self.head().generation

    @classmethod
    def open(cls, settings: Settings, model_name: str) -> IndexStore:
        return cls(open_client(settings), settings.collection, model_name)

    def close(self) -> None:
        """Release the client: an embedded reader must reopen to see another process's writes."""
        with contextlib.suppress(Exception):
            self.client.close()  # type: ignore[attr-defined]

    # -- head --------------------------------------------------------------------------------
    @property
    def head_name(self) -> str:
        return f"{self.name}-head"

    def head(self) -> IndexHead:
        """The live generation and version; an index built before heads existed is generation 0."""
        keyed = self.head_key()
        return keyed[1] if keyed is not None else IndexHead()

    def head_key(self) -> tuple[str, IndexHead] | None:
        """The head with a key naming this exact index version, as `peek_head` gives for an embedded
        index, but asked of the client (a Chroma server has no file to peek at); None before heads existed."""
        if self.head_name not in self._names():
            return None
        collection = self.client.get_collection(self.head_name, embedding_function=None)
        meta = collection.metadata or {}
        head = IndexHead(int(meta.get("generation", 0)), int(meta.get("version", 0)), str(meta.get("state", "ready")))
        return f"{collection.id}-g{head.generation}-v{head.version}", head

    def _write_head(self, head: IndexHead) -> None:
        metadata: Any = {"generation": head.generation, "version": head.version, "state": head.state}
        collection = self.client.get_or_create_collection(self.head_name, embedding_function=None)
        collection.modify(metadata=metadata)

    def begin_write(self) -> None:
        """Mark the live generation as being written (a rebuild writes elsewhere and skips this)."""
        head = self.head()
        if head.generation == self.generation:
            self._write_head(IndexHead(head.generation, head.version, "writing"))

    def publish(self) -> IndexHead:
        """Make this store's generation live with a new version, then drop every other generation."""
        head = self.head()
        published = IndexHead(self.generation, head.version + 1, "ready")
        self._write_head(published)
        for name in self._names():
            if self._generation_of(name) not in (None, self.generation):
                with contextlib.suppress(Exception):  # a reader may still hold it; gone is gone
                    self.client.delete_collection(name)
        return published

    def start_rebuild(self) -> None:
        """Write a fresh generation beside the live one (after dropping a crashed rebuild's leftovers)."""
        self.generation = self.head().generation + 1
        for name in (self._chunk_name(), f"{self._chunk_name()}-manifest"):
            with contextlib.suppress(Exception):  # absent is the usual case
                self.client.delete_collection(name)
        self._chunks = self._manifest = None

    def _chunk_name(self) -> str:
        return chunk_collection_name(self.name, self.generation)

    def _generation_of(self, collection: str) -> int | None:
        """The generation a collection belongs to, or None if it is not a data collection of this index."""
        base = collection.removesuffix("-manifest")
        if base == self.name:
            return 0
        number = base.removeprefix(f"{self.name}-g")
        return int(number) if base != number and number.isdigit() else None

    def _names(self) -> set[str]:
        return {c if isinstance(c, str) else c.name for c in self.client.list_collections()}

    # -- collections -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self._chunk_name() in self._names()

    def info(self) -> dict[str, Any]:
        """The collection's recorded model and schema, or {} if there is no index yet."""
        if not self.exists():
            return {}
        return dict(self.client.get_collection(self._chunk_name(), embedding_function=None).metadata or {})

    def check_model(self) -> None:
        info = self.info()
        if not info:
            return
        built_with = info.get("embedding_model")
        if built_with != self.model_name or info.get("schema_version") != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"the index {self.name!r} was built with model {built_with!r} (schema "
                f"{info.get('schema_version')}), but the settings ask for {self.model_name!r} (schema "
                f"{SCHEMA_VERSION}); run `kb ingest --rebuild` to re-embed everything")

    def chunks(self, dimension: int | None = None) -> Collection:
        """The chunk collection; created (which needs the dimension) only when writing."""
        if self._chunks is None:
            if not self.exists():
                if dimension is None:
                    raise IndexError_(f"there is no index {self.name!r} yet; run `kb ingest` first")
                metadata = {"embedding_model": self.model_name, "dimension": dimension,
                            "normalized": True, "schema_version": SCHEMA_VERSION}
                self.client.create_collection(self._chunk_name(), embedding_function=None, metadata=metadata,
                                              schema=_chunk_schema())
            self._chunks = self.client.get_collection(self._chunk_name(), embedding_function=None)
        return self._chunks

    def manifest_collection(self) -> Collection:
        if self._manifest is None:
            self._manifest = self.client.get_or_create_collection(
                f"{self._chunk_name()}-manifest", embedding_function=None,
                metadata={"schema_version": SCHEMA_VERSION})
        return self._manifest

    # -- manifest ----------------------------------------------------------------------------
    def manifest(self) -> dict[str, ManifestEntry]:
        got = self.manifest_collection().get(include=["metadatas", "documents"])
        entries = {}
        for meta, doc in zip(got["metadatas"] or [], got["documents"] or [], strict=True):
            entry = ManifestEntry(str(meta["source"]), str(meta["doc_hash"]), str(meta["status"]),
                                  tuple(json.loads(doc or "[]")), str(meta.get("title", "")),
                                  str(meta.get("kind", "")), str(meta.get("source_name", "")))
            entries[entry.key] = entry
        return entries

    def mark(self, entries: Sequence[ManifestEntry]) -> None:
        """Record documents as pending (before their chunks change) or done (after), in one write."""
        for part in _batches(entries, self.batch_size):
            batch = entries[part]
            metas: list[Any] = [{"source": e.source, "doc_hash": e.doc_hash, "status": e.status,
                                 "title": e.title, "kind": e.kind, "chunks": len(e.chunk_ids),
                                 **({"source_name": e.source_name} if e.source_name else {})} for e in batch]
            self.manifest_collection().upsert(
                ids=[e.key for e in batch], embeddings=np.asarray([_PLACEHOLDER] * len(batch), dtype=np.float32),
                metadatas=metas, documents=[json.dumps(list(e.chunk_ids)) for e in batch])

    def forget(self, keys: Sequence[str]) -> None:
        """Drop documents' manifest records, by document key."""
        if keys:
            self.manifest_collection().delete(ids=list(keys))

    # -- chunks ------------------------------------------------------------------------------
    def stored_ids(self, documents: Sequence[tuple[str, str]]) -> dict[str, set[str]]:
        """The chunk ids actually stored for each (source name, path), whatever the manifest says, by
        document key."""
        found: dict[str, set[str]] = {document_key(name, path): set() for name, path in documents}
        if not documents or not self.exists():
            return found
        paths = sorted({path for _, path in documents})
        for part in _batches(paths, 500):
            where: Any = {"source": {"$in": paths[part]}}
            got = self.chunks().get(where=where, include=["metadatas"])
            for chunk_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                key = document_key(str(meta.get("source_name", "")), str(meta["source"]))
                if key in found:  # the same path in another source is another document
                    found[key].add(chunk_id)
        return found

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]] | Vectors,
               doc_hashes: Mapping[str, str], dimension: int, extra: Mapping[str, SentenceMeta] | None = None) -> None:
        """Write chunks; `extra` adds per-chunk metadata such as the answer sentences."""
        collection = self.chunks(dimension)
        extra = extra or {}
        for part in _batches(chunks, self.batch_size):
            batch = chunks[part]
            metadatas: list[Any] = [{**c.metadata(doc_hashes[c.key]), **extra.get(c.id, {})} for c in batch]
            collection.upsert(ids=[c.id for c in batch], documents=[c.text for c in batch],
                              embeddings=np.asarray(vectors[part], dtype=np.float32), metadatas=metadatas)

    def update_metadata(self, chunks: Sequence[Chunk], doc_hashes: Mapping[str, str]) -> None:
        collection = self.chunks()
        for part in _batches(chunks, self.batch_size):
            batch = chunks[part]
            metadatas: list[Any] = [c.metadata(doc_hashes[c.key]) for c in batch]  # Chroma's own Metadata type
            collection.update(ids=[c.id for c in batch], metadatas=metadatas)

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        collection = self.chunks()
        for part in _batches(ids, self.batch_size):
            collection.delete(ids=list(ids[part]))

    def all_metadata(self) -> list[dict[str, Any]]:
        if not self.exists():
            return []
        collection = self.chunks()
        metadatas: list[dict[str, Any]] = []
        for offset in range(0, collection.count(), self.batch_size):
            got = collection.get(include=["metadatas"], limit=self.batch_size, offset=offset)
            metadatas.extend(dict(m) for m in got["metadatas"] or [])
        return metadatas


# Metadata never filtered on: the answer sentences' spans and vectors (kilobytes of base64 per chunk)
# and the document summary. Chroma indexes every string key and every document's words by default;
# the bot searches with its own BM25, so those indexes only slow writes (2,000 chunks: 20% faster).
_UNINDEXED_KEYS = ("sentences", "sentence_vectors", "doc_summary")


def _chunk_schema() -> Any:
    from chromadb import FtsIndexConfig, Schema, StringInvertedIndexConfig, VectorIndexConfig

    schema = Schema()
    schema.create_index(config=VectorIndexConfig(space="cosine"))
    schema.delete_index(key="#document", config=FtsIndexConfig())
    for key in _UNINDEXED_KEYS:
        schema.delete_index(key=key, config=StringInvertedIndexConfig())
    return schema
