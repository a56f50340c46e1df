"""The answer contract: what `kb ask --json`, the API, the web UI and Slack all receive."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.html import SUFFIXES as HTML_SUFFIXES

_LANGUAGE_CHARS = re.compile(r"[^a-z0-9+#.-]")


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1)
    source: str  # path relative to its source folder
    title: str
    section: str
    anchor: str
    start_line: int
    end_line: int
    score: float
    text: str  # the whole cited chunk
    kind: str = "prose"
    origin: str = ""  # included code: the file the text comes from; start_line/end_line are its lines
    start_page: int | None = Field(None, ge=1, description="a PDF's pages the text comes from")
    end_page: int | None = Field(None, ge=1)
    source_name: str = Field("", description="the name of the source folder the document came from")
    rows: list[int] = Field(default_factory=list, description="a table's lines whose rows the answer quotes")
    quoted: list[tuple[int, int]] = Field(default_factory=list, description="[start, end) character spans of `text` "
                                          "that the answer's points quote, as ingest stored them")

    @property
    def label(self) -> str:
        """The title, then the section path without repeating the title, joined by single angle quotes."""
        parts = self.section.split(" > ")
        if parts and parts[0] == self.title:
            parts = parts[1:]
        return " \u203a ".join([self.title, *parts])

    @property
    def location(self) -> str:
        """Where to look: a PDF's page or pages ("p. 4", "pp. 4-5" with an en dash), an HTML page's
        heading anchor, else the file's lines."""
        if self.start_page is not None:
            end = self.end_page or self.start_page
            pages = f"p. {self.start_page}" if end == self.start_page else f"pp. {self.start_page}\u2013{end}"
            return f"{self.source}, {pages}"
        if self.source.lower().endswith(HTML_SUFFIXES) and not self.origin:
            # Its lines are those of the markdown it was converted to, not the page's: the heading's
            # anchor (the slug mkdocs and most generators give a heading's id) finds the place instead.
            return f"{self.source}#{self.anchor}" if self.anchor else self.source
        lines = f"{self.origin or self.source}:{self.start_line}-{self.end_line}"
        if self.rows:  # the table rows the answer quotes: "a.md:17-28, rows at lines 19, 22"
            plural = "s" * (len(self.rows) > 1)
            lines += f", row{plural} at line{plural} " + ", ".join(str(r) for r in self.rows)
        return lines

    @property
    def where(self) -> str:
        """The location, after its source's name when there is one: "docs: guide/a.md:3-9"."""
        return f"{self.source_name}: {self.location}" if self.source_name else self.location


class Template(BaseModel):
    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1, description="the citation this template comes from")
    language: str
    code: str  # verbatim from the knowledge base
    source: str
    section: str

    @field_validator("language")
    @classmethod
    def _safe_language(cls, value: str) -> str:
        # It lands in a fence's info string and a CSS class: only characters no renderer can misread.
        return _LANGUAGE_CHARS.sub("", value.lower())[:32] or "text"


class Timings(BaseModel):
    retrieve: float = 0.0
    compose: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    question: str
    answer: str  # markdown: key points, templates, sources, disclaimer
    abstained: bool
    mode: Literal["extractive", "llm"] = "extractive"
    citations: list[Citation] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)
    disclaimer: str
    points: list[str] = Field(default_factory=list, description="the key points, each ending in its [n]")
    coverage_note: str = Field("", description="what the question asks that the knowledge base does not cover")
    notes: list[str] = Field(default_factory=list, description="e.g. why the LLM answer fell back")
    timings_ms: Timings = Field(default_factory=Timings)

    def contract(self) -> dict[str, object]:
        """The documented JSON object of `kb ask --json`."""
        return self.model_dump(include={"question", "answer", "abstained", "mode", "citations", "templates",
                                         "disclaimer", "coverage_note", "timings_ms"})
