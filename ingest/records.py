"""Typed records passed between the ingest stages."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.chunk_meta import ChunkMeta

DocKind = Literal["persona", "pattern", "reference", "code", "other"]
ChunkKind = Literal["prose", "template", "table"]


def document_key(source_name: str, source: str) -> str:
    """A document's identity in the index: its source's name and its path there (`docs:guide/a.md`), so
    two sources may hold the same relative path. An index written before sources had names used the bare
    path (and its records carry no source name)."""
    return f"{source_name}:{source}" if source_name else source


@dataclass(frozen=True)
class Notice:
    """A problem found in one file that did not stop the batch."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str  # unreadable | vanished | binary | empty | invalid-encoding | over-size | invalid-front-matter |
    # outside-root | yaml-bomb | corrupt | encrypted | no-text-layer | unparsable
    detail: str
    source_name: str = ""

    @property
    def key(self) -> str:
        return document_key(self.source_name, self.path)


@dataclass(frozen=True)
class Converted:
    """An HTML page or a PDF turned into the heading-aware markdown the chunker reads."""

    title: str
    body: str
    summary: str = ""  # the page's meta description or the PDF's subject
    pages: tuple[int, ...] = ()  # see Document.pages
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class Document:
    """A loaded, repaired document. `body` keeps the source's line numbering (front matter is blanked)."""

    source: str  # path relative to its source folder, posix style
    root: Path  # the source folder it came from
    title: str
    kind: DocKind
    body: str
    front_matter: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    includes: dict[str, str] = field(default_factory=dict)  # snippet path -> its text (mkdocs `--8<--`)
    pages: tuple[int, ...] = ()  # converted PDF: the body line where each page starts (page 1 first)
    source_name: str = ""  # the name of the source folder (see core.settings.SourceFolder)

    def page_of(self, line: int) -> int | None:
        """The page a body line comes from (1-based), or None for a document without pages."""
        if not self.pages:
            return None
        return max(1, bisect.bisect_right(self.pages, line))

    @property
    def key(self) -> str:
        return document_key(self.source_name, self.source)


@dataclass(frozen=True)
class Exclusion:
    """A span of a document left out of the index, and the rule that removed it."""

    source: str
    start_line: int
    end_line: int
    heading: str
    rule: str
    reason: str


class Chunk(BaseModel):
    """One retrievable unit. `text` is stored verbatim; `embed_text` is what the model sees."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    embed_text: str
    source: str
    title: str
    doc_kind: DocKind
    section: str  # "H1 > H2 > H3"
    anchor: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    kind: ChunkKind
    language: str = ""
    providers: tuple[str, ...] = ()
    content_hash: str
    parent_id: str = ""  # for a template: its section's prose chunk
    ordinal: int = 0  # position within the document
    doc_summary: str = ""  # the document's summary or description (front matter), for document-level search
    doc_tags: tuple[str, ...] = ()  # the document's tags or keywords (front matter)
    origin: str = ""  # for included code: the file (relative to the root) whose lines start_line..end_line are the text
    start_page: int | None = Field(None, ge=1)  # a converted PDF's pages the text comes from
    end_page: int | None = Field(None, ge=1)
    source_name: str = ""  # the name of the source folder the document came from

    @property
    def key(self) -> str:
        """Its document's key (see document_key)."""
        return document_key(self.source_name, self.source)

    def metadata(self, doc_hash: str) -> ChunkMeta:
        """Flat metadata for Chroma; lists are allowed, None is not."""
        meta: ChunkMeta = {
            "source": self.source,
            "title": self.title,
            "doc_kind": self.doc_kind,
            "section": self.section,
            "anchor": self.anchor,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "kind": self.kind,
            "language": self.language,
            "content_hash": self.content_hash,
            "parent_id": self.parent_id,
            "ordinal": self.ordinal,
            "doc_hash": doc_hash,
        }
        if self.source_name:
            meta["source_name"] = self.source_name
        if self.origin:
            meta["origin"] = self.origin
        if self.start_page is not None and self.end_page is not None:  # absent, not None: Chroma refuses None
            meta["start_page"] = self.start_page
            meta["end_page"] = self.end_page
        if self.doc_summary:
            meta["doc_summary"] = self.doc_summary
        if self.doc_tags:
            meta["doc_tags"] = list(self.doc_tags)
        if self.providers:  # Chroma refuses empty lists
            meta["providers"] = list(self.providers)
        return meta
