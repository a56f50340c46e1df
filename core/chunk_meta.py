"""The typed view of a chunk's stored metadata: what ingest writes to Chroma and every reader gets.

A TypedDict, not a model: the rows come from Chroma or from memory-mapped columns by the hundred
thousand, and a typed dict costs nothing at run time while mypy checks every key a reader uses.
Chroma stores flat values only (no None, no empty list), so the optional keys are absent, not empty.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ChunkMeta(TypedDict):
    source: str  # path relative to its source folder
    title: str  # the document's title
    doc_kind: str  # pattern | reference | persona | other | code
    section: str  # "H1 > H2 > H3"
    anchor: str
    start_line: int
    end_line: int
    kind: str  # prose | template | table
    language: str  # a template's language, "" for prose
    content_hash: str
    parent_id: str  # a template's section prose chunk, or ""
    ordinal: int  # position within the document
    doc_hash: str
    source_name: NotRequired[str]  # the named source folder
    origin: NotRequired[str]  # included code: the file whose lines these are
    start_page: NotRequired[int]  # a converted PDF's pages
    end_page: NotRequired[int]
    doc_summary: NotRequired[str]
    doc_tags: NotRequired[list[str]]
    providers: NotRequired[list[str]]


class SentenceMeta(TypedDict, total=False):
    """Stored with a chunk in Chroma, dropped when the corpus is loaded (see ingest.sentences)."""

    sentences: str  # JSON list of [start, end] spans into the chunk text
    sentence_vectors: str  # base64 float16 rows
