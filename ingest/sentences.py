"""Answer units of a prose chunk as stored in the index: the spans core.text_units cuts, without
those addressed to an assistant, and their vectors.

Ingest embeds each span once (pooled from the chunk's own forward pass), and the composer
quotes them, so both sides must agree on the spans: core.text_units is the one place that splits.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from core.chunk_meta import SentenceMeta
from core.text_units import Span, sentence_spans
from ingest.embed import Embedder, Vectors
from ingest.hostile import addressed_to_assistant


def answer_spans(text: str) -> list[Span]:
    """The sentences an answer may quote: sentence_spans without those addressed to an assistant."""
    return [(a, b) for a, b in sentence_spans(text) if not addressed_to_assistant(text[a:b])]


def refill_cut_spans(embedder: Embedder, texts: Sequence[str], spans: Sequence[Sequence[Span]],
                     pooled: list[list[Vectors | None]], contexts: Sequence[int]) -> None:
    """Give a vector to every span the model's window cut off (the late rows of a long table): each is
    embedded again on its own, after its text's context (`texts[i][:contexts[i]]`: the heading line,
    and a table's header), in one extra pass for all of them. Without it such a row could only be
    scored by the whole table's vector, which favoured the rows the model never saw."""
    cut = [(i, j) for i, row in enumerate(pooled) for j, vector in enumerate(row) if vector is None]
    if not cut:
        return
    minis, mini_spans = [], []
    for i, j in cut:
        a, b = spans[i][j]
        head = texts[i][: contexts[i]].rstrip("\n")
        minis.append(f"{head}\n{texts[i][a:b]}")
        mini_spans.append([(len(head) + 1, len(head) + 1 + b - a)])
    _, vectors = embedder.embed_with_spans(minis, mini_spans)
    for (i, j), found in zip(cut, vectors, strict=True):
        pooled[i][j] = found[0]


def without_addressed(text: str) -> str:
    """The text with every sentence addressed to an assistant cut out (for an LLM's context)."""
    for a, b in reversed([span for span in sentence_spans(text) if addressed_to_assistant(text[span[0]:span[1]])]):
        text = text[:a] + text[b:]
    return text


def encode_sentences(spans: Sequence[Span], vectors: Sequence[npt.NDArray[np.float32] | None]) -> SentenceMeta:
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
