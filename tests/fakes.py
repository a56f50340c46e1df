"""Small real parts for tests: a deterministic embedder that needs no model."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from ingest.embed import Vectors

_TOKEN = re.compile(r"\w+|[^\w\s]")


class HashingEmbedder:
    """Bag-of-words hashed into a small vector; similar texts get similar vectors."""

    def __init__(self, dimension: int = 64, max_tokens: int = 64, name: str = "test:hashing") -> None:
        self.name = name
        self.max_tokens = max_tokens
        self._dimension = dimension
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return self._dimension

    def count_tokens(self, texts: list[str]) -> list[int]:
        # Like a word-piece tokenizer: additive across whitespace, plus two special tokens.
        return [len(_TOKEN.findall(text)) + 2 for text in texts]

    def embed_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]
                         ) -> tuple[Vectors, list[list[Vectors | None]]]:
        """Like a model's window: a span that ends past the first max_tokens tokens gets None."""
        vectors = self.embed(texts)
        pieces = [text[a:b] for text, row in zip(texts, spans, strict=True) for a, b in row]
        pooled = iter(self._vectors(pieces) if pieces else [])
        out: list[list[Vectors | None]] = []
        for text, row in zip(texts, spans, strict=True):
            window, found = self._window_end(text), [next(pooled) for _ in row]
            out.append([vector if b <= window else None for (_, b), vector in zip(row, found, strict=True)])
        return vectors, out

    def _window_end(self, text: str) -> int:
        ends = [m.end() for m in _TOKEN.finditer(text)][: self.max_tokens - 2]  # two special tokens
        return ends[-1] if len(ends) == self.max_tokens - 2 else len(text)

    def embed(self, texts: list[str]) -> Vectors:
        self.embedded.extend(texts)
        return self._vectors(texts)

    def _vectors(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest[:3], "little") % self._dimension] += 1.0 if digest[3] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)
