"""What is in the index: documents, chunks by kind and provider, model, location and size."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field

from core.settings import Settings
from ingest import code
from ingest.index import IndexStore, ManifestEntry


class DocumentStats(BaseModel):
    source: str
    source_name: str = ""
    format: str = ""
    title: str
    kind: str
    chunks: int
    status: str


class Count(BaseModel):
    documents: int = 0
    chunks: int = 0


class SourceStats(Count):
    """One named source: its documents and chunks, in all and by format."""

    formats: dict[str, Count] = Field(default_factory=dict)


class IndexStats(BaseModel):
    index: str
    collection: str
    embedding_model: str
    dimension: int
    documents: int
    documents_by_kind: dict[str, int] = Field(default_factory=dict)
    sources: dict[str, SourceStats] = Field(default_factory=dict, description="by source name (an index written "
                                            "before sources had names: under '')")
    formats: dict[str, Count] = Field(default_factory=dict, description="by file format, across sources")
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


# Code files by their language (ingest.code's table); a Terraform file is named as people call it, not "hcl".
FORMATS = {**code.LANGUAGES, ".tf": "terraform", ".md": "markdown", ".markdown": "markdown", ".txt": "text",
           ".htm": "html", ".yml": "yaml"}


def file_format(path: str) -> str:
    """A document's format, from its file name: markdown, html, pdf, yaml, terraform, python, ..."""
    suffix = Path(path).suffix.lower()
    return FORMATS.get(suffix, suffix.lstrip(".") or "other")


def by_source(manifest: list[ManifestEntry]) -> tuple[dict[str, SourceStats], dict[str, Count]]:
    """Documents and chunks per source (and per format within it), and per format overall."""
    sources: dict[str, SourceStats] = {}
    formats: dict[str, Count] = {}
    for entry in sorted(manifest, key=lambda e: (e.source_name, e.source)):
        kind = file_format(entry.source)
        source = sources.setdefault(entry.source_name, SourceStats())
        for count in (source, source.formats.setdefault(kind, Count()), formats.setdefault(kind, Count())):
            count.documents += 1
            count.chunks += len(entry.chunk_ids)
    return sources, dict(sorted(formats.items()))


def collect_stats(settings: Settings, store: IndexStore) -> IndexStats:
    info = store.info()
    manifest = store.manifest()
    metadatas = store.all_metadata()
    categories = Counter(c for c in (_category(m.source) for m in manifest.values()) if c)
    docs = [DocumentStats(source=m.source, source_name=m.source_name, format=file_format(m.source), title=m.title,
                          kind=m.kind, chunks=len(m.chunk_ids), status=m.status)
            for m in sorted(manifest.values(), key=lambda m: (m.source_name, m.source))]
    sources, formats = by_source(list(manifest.values()))
    return IndexStats(
        index=settings.chroma_url or str(settings.chroma_dir),
        collection=settings.collection,
        embedding_model=str(info.get("embedding_model", "")),
        dimension=int(info.get("dimension", 0)),
        documents=len(manifest),
        documents_by_kind=dict(Counter(m.kind for m in manifest.values())),
        sources=sources,
        formats=formats,
        chunks=len(metadatas),
        chunks_by_kind=dict(Counter(str(m["kind"]) for m in metadatas)),
        chunks_by_provider=dict(Counter(p for m in metadatas for p in m.get("providers") or [])),
        templates_by_language=dict(Counter(str(m["language"]) for m in metadatas if m["kind"] == "template")),
        categories=dict(sorted(categories.items())),
        size_bytes=0 if settings.chroma_url else _size(settings.index_dir),
        document_list=docs,
    )
