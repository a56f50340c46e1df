"""What is in the index: documents, chunks by kind and provider, model, location and size."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field

from ingest.index import IndexStore
from ingest.settings import Settings


class DocumentStats(BaseModel):
    source: str
    title: str
    kind: str
    chunks: int
    status: str


class IndexStats(BaseModel):
    index: str
    collection: str
    embedding_model: str
    dimension: int
    documents: int
    documents_by_kind: dict[str, int] = Field(default_factory=dict)
    chunks: int
    chunks_by_kind: dict[str, int] = Field(default_factory=dict)
    chunks_by_provider: dict[str, int] = Field(default_factory=dict)
    templates_by_language: dict[str, int] = Field(default_factory=dict)
    categories: dict[str, int] = Field(default_factory=dict)
    size_bytes: int = 0
    document_list: list[DocumentStats] = Field(default_factory=list)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _category(source: str) -> str | None:
    parts = source.split("/")
    return parts[parts.index("patterns") + 1] if "patterns" in parts[:-2] else None


def collect_stats(settings: Settings, store: IndexStore) -> IndexStats:
    info = store.info()
    manifest = store.manifest()
    metadatas = store.all_metadata()
    categories = Counter(c for c in (_category(m.source) for m in manifest.values()) if c)
    docs = [DocumentStats(source=m.source, title=m.title, kind=m.kind, chunks=len(m.chunk_ids),
                          status=m.status) for m in sorted(manifest.values(), key=lambda m: m.source)]
    return IndexStats(
        index=settings.chroma_url or str(settings.chroma_dir),
        collection=settings.collection,
        embedding_model=str(info.get("embedding_model", "")),
        dimension=int(info.get("dimension", 0)),
        documents=len(manifest),
        documents_by_kind=dict(Counter(m.kind for m in manifest.values())),
        chunks=len(metadatas),
        chunks_by_kind=dict(Counter(str(m["kind"]) for m in metadatas)),
        chunks_by_provider=dict(Counter(p for m in metadatas for p in m.get("providers") or [])),
        templates_by_language=dict(Counter(str(m["language"]) for m in metadatas if m["kind"] == "template")),
        categories=dict(sorted(categories.items())),
        size_bytes=0 if settings.chroma_url else _size(settings.index_dir),
        document_list=docs,
    )
