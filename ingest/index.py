"""The index contract: one Chroma collection of chunks and one manifest collection of documents.

A prose chunk's metadata also carries its answer sentences: character spans (`sentences`, JSON)
and their vectors (`sentence_vectors`, base64 float16), written atomically with the chunk.

Both live in Chroma, so an embedded index and a Chroma server behave the same. A document's
manifest record is written as "pending" before its chunks change and "done" after, so a crash
at any point leaves work that the next ingest finds and finishes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from ingest.errors import IndexError_, IndexMismatchError
from ingest.records import Chunk, Metadata
from ingest.settings import Settings

SCHEMA_VERSION = 2  # 2: answer sentences live in chunk metadata
_PLACEHOLDER = [1.0]  # manifest records carry no meaning in their vector


@dataclass(frozen=True)
class ManifestEntry:
    source: str
    doc_hash: str
    status: str  # pending | done
    chunk_ids: tuple[str, ...]
    title: str
    kind: str


def open_client(settings: Settings) -> ClientAPI:
    """An embedded client in the index folder, or an HTTP client when KB_CHROMA_URL is set."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_url:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise IndexError_(f"KB_CHROMA_URL={settings.chroma_url!r} is not an http(s) URL such as "
                          "http://127.0.0.1:8000")
    try:
        return chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 80),
                                   ssl=url.scheme == "https", settings=chroma_settings)
    except Exception as exc:  # chromadb raises plain exceptions for connection problems
        raise IndexError_(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from exc


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

    @classmethod
    def open(cls, settings: Settings, model_name: str) -> IndexStore:
        return cls(open_client(settings), settings.collection, model_name)

    # -- collections -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.name in {c if isinstance(c, str) else c.name for c in self.client.list_collections()}

    def info(self) -> dict[str, Any]:
        """The collection's recorded model and schema, or {} if there is no index yet."""
        if not self.exists():
            return {}
        return dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})

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
                self.client.create_collection(self.name, embedding_function=None, metadata=metadata,
                                              configuration={"hnsw": {"space": "cosine"}})
            self._chunks = self.client.get_collection(self.name, embedding_function=None)
        return self._chunks

    def manifest_collection(self) -> Collection:
        if self._manifest is None:
            self._manifest = self.client.get_or_create_collection(
                f"{self.name}-manifest", embedding_function=None, metadata={"schema_version": SCHEMA_VERSION})
        return self._manifest

    def reset(self) -> None:
        """Drop everything (for --rebuild)."""
        for name in (self.name, f"{self.name}-manifest"):
            with contextlib.suppress(Exception):  # an absent collection is already "deleted"
                self.client.delete_collection(name)
        self._chunks = self._manifest = None

    # -- manifest ----------------------------------------------------------------------------
    def manifest(self) -> dict[str, ManifestEntry]:
        got = self.manifest_collection().get(include=["metadatas", "documents"])
        entries = {}
        for meta, doc in zip(got["metadatas"] or [], got["documents"] or [], strict=True):
            entry = ManifestEntry(str(meta["source"]), str(meta["doc_hash"]), str(meta["status"]),
                                  tuple(json.loads(doc or "[]")), str(meta.get("title", "")),
                                  str(meta.get("kind", "")))
            entries[entry.source] = entry
        return entries

    def mark(self, entries: Sequence[ManifestEntry]) -> None:
        """Record documents as pending (before their chunks change) or done (after), in one write."""
        for part in _batches(entries, self.batch_size):
            batch = entries[part]
            metas: list[Any] = [{"source": e.source, "doc_hash": e.doc_hash, "status": e.status,
                                      "title": e.title, "kind": e.kind, "chunks": len(e.chunk_ids)} for e in batch]
            self.manifest_collection().upsert(
                ids=[e.source for e in batch], embeddings=np.asarray([_PLACEHOLDER] * len(batch), dtype=np.float32),
                metadatas=metas, documents=[json.dumps(list(e.chunk_ids)) for e in batch])

    def forget(self, sources: Sequence[str]) -> None:
        if sources:
            self.manifest_collection().delete(ids=list(sources))

    # -- chunks ------------------------------------------------------------------------------
    def stored_ids(self, sources: Sequence[str]) -> dict[str, set[str]]:
        """The chunk ids actually stored for each source (whatever the manifest says)."""
        found: dict[str, set[str]] = {source: set() for source in sources}
        if not sources or not self.exists():
            return found
        for part in _batches(sources, 500):
            where: Any = {"source": {"$in": list(sources[part])}}
            got = self.chunks().get(where=where, include=["metadatas"])
            for chunk_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                found[str(meta["source"])].add(chunk_id)
        return found

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], doc_hashes: Mapping[str, str],
               dimension: int, extra: Mapping[str, Metadata] | None = None) -> None:
        """Write chunks; `extra` adds per-chunk metadata such as the answer sentences."""
        collection = self.chunks(dimension)
        extra = extra or {}
        for part in _batches(chunks, self.batch_size):
            batch = chunks[part]
            metadatas: list[Any] = [{**c.metadata(doc_hashes[c.source]), **extra.get(c.id, {})} for c in batch]
            collection.upsert(ids=[c.id for c in batch], documents=[c.text for c in batch],
                              embeddings=np.asarray(vectors[part], dtype=np.float32), metadatas=metadatas)

    def update_metadata(self, chunks: Sequence[Chunk], doc_hashes: Mapping[str, str]) -> None:
        collection = self.chunks()
        for part in _batches(chunks, self.batch_size):
            batch = chunks[part]
            collection.update(ids=[c.id for c in batch], metadatas=[c.metadata(doc_hashes[c.source]) for c in batch])

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
