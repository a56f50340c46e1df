"""Answer units: the sentences and bullets of a prose chunk, as character spans.

Ingest embeds each span once (pooled from the chunk's own forward pass), and the composer
quotes them, so both sides must agree on the spans: this module is the one place that splits.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ingest.hostile import addressed_to_assistant
from ingest.records import Metadata

_BULLET = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_TABLE_OR_RULE = re.compile(r"^\s*(\||-{3,}|={3,})")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]`*\"'][.!?])\s+(?=[A-Z0-9\"'(*`\[])")
MIN_WORDS = 4

Span = tuple[int, int]


def _line_units(text: str) -> list[Span]:
    """Bullets (with their continuation lines) and paragraphs, as spans."""
    units: list[Span] = []
    offset = 0
    current: Span | None = None
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip() or _TABLE_OR_RULE.match(line) or line.lstrip().startswith("#"):
            current = None
            continue
        continues = current is not None and not _BULLET.match(line)
        if continues and current is not None:
            current = (current[0], end)
            units[-1] = current
        else:
            current = (start, end)
            units.append(current)
    return units


def _sentences(text: str, span: Span) -> list[Span]:
    start, end = span
    piece = text[start:end]
    spans: list[Span] = []
    cursor = 0
    for match in _SENTENCE_END.finditer(piece):
        spans.append((start + cursor, start + match.start()))
        cursor = match.end()
    spans.append((start + cursor, end))
    return spans


def sentence_spans(text: str) -> list[Span]:
    """Spans of the units worth quoting: at least a few words, trimmed of surrounding space."""
    spans: list[Span] = []
    for unit in _line_units(text):
        for start, end in _sentences(text, unit):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if len(text[start:end].split()) >= MIN_WORDS:
                spans.append((start, end))
    return spans


def answer_spans(text: str) -> list[Span]:
    """The sentences an answer may quote: sentence_spans without those addressed to an assistant."""
    return [(a, b) for a, b in sentence_spans(text) if not addressed_to_assistant(text[a:b])]


def without_addressed(text: str) -> str:
    """The text with every sentence addressed to an assistant cut out (for an LLM's context)."""
    for a, b in reversed([span for span in sentence_spans(text) if addressed_to_assistant(text[span[0]:span[1]])]):
        text = text[:a] + text[b:]
    return text


def encode_sentences(spans: Sequence[Span], vectors: Sequence[npt.NDArray[np.float32] | None]) -> Metadata:
    """Chunk metadata for its answer sentences: spans as JSON, vectors as base64 float16 rows."""
    kept = [(span, v) for span, v in zip(spans, vectors, strict=True) if v is not None]
    if not kept:
        return {}
    matrix = np.stack([v for _, v in kept]).astype(np.float16)
    return {"sentences": json.dumps([list(span) for span, _ in kept]),
            "sentence_vectors": base64.b64encode(matrix.tobytes()).decode("ascii")}


def decode_sentences(meta: dict[str, object], dimension: int) -> tuple[list[Span], npt.NDArray[np.float32]]:
    spans = [(int(a), int(b)) for a, b in json.loads(str(meta.get("sentences") or "[]"))]
    raw = base64.b64decode(str(meta.get("sentence_vectors") or ""))
    matrix = np.frombuffer(raw, dtype=np.float16).astype(np.float32).reshape(len(spans), dimension)
    return spans, matrix
