"""Compact, read-only columns behind the corpus's per-chunk sequences.

At 100k chunks a Python object per chunk (a dict of metadata, a set of terms, a Sentence) costs
hundreds of megabytes and seconds to build. These classes keep the data in a few flat arrays,
memory-mapped from the snapshot files where they can be, and build the familiar object (a str,
a dict, a set) only for the row asked for. They behave as the lists they replace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

import numpy as np
import numpy.typing as npt

from core.chunk_meta import ChunkMeta

RECENT_ROWS = 4096  # rows of each column kept once built
T = TypeVar("T")
V = TypeVar("V")
Ints = npt.NDArray[np.int64] | npt.NDArray[np.int32]


@dataclass(frozen=True)
class Sentence:
    chunk: int  # row of its chunk in the corpus
    start: int
    end: int
    text: str


class Column(Sequence[T], Generic[T]):
    """A sequence whose items are made on access by `_item`. One answer reads the same few rows
    hundreds of times, so recent rows are kept, and a row comes back as the same object each time,
    as from the list a column replaces."""

    def __init__(self) -> None:
        self._recent: dict[int, T] = {}

    def __len__(self) -> int:
        raise NotImplementedError

    def _item(self, row: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, row: int) -> T: ...

    @overload
    def __getitem__(self, row: slice) -> list[T]: ...

    def __getitem__(self, row: int | slice) -> T | list[T]:
        if isinstance(row, slice):
            return [self._item(i) for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        item = self._recent.get(row)
        if item is None:
            if not 0 <= row < len(self):
                raise IndexError(row)
            item = self._item(row)
            if len(self._recent) >= RECENT_ROWS:
                self._recent = {}  # a new dict, not clear(): other threads may be reading the old one
            self._recent[row] = item
        return item

    def __iter__(self) -> Iterator[T]:
        return (self._item(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Sequence) and len(other) == len(self)
                and all(a == b for a, b in zip(self, other, strict=True)))

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one


class TextColumn(Column[str]):
    """Texts as one UTF-8 byte array and offsets into it."""

    def __init__(self, blob: npt.NDArray[np.uint8], offsets: Ints) -> None:
        super().__init__()
        self.blob = blob
        self.offsets = offsets

    @staticmethod
    def encode(texts: Iterable[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
        parts = [text.encode("utf-8") for text in texts]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        return np.frombuffer(b"".join(parts), dtype=np.uint8), offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _item(self, row: int) -> str:
        return self.blob[int(self.offsets[row]) : int(self.offsets[row + 1])].tobytes().decode("utf-8")


class MetaColumns(Column[ChunkMeta]):
    """Metadata as one column per key: each distinct value stored once, a code per row (-1: absent).
    A row comes back as a new dict; list values are shared between rows and must not be mutated."""

    def __init__(self, keys: list[str], values: list[list[Any]], codes: list[list[int]]) -> None:
        self.keys = keys
        self.values = values
        self.codes = codes
        self._columns = list(zip(keys, values, codes, strict=True))
        self._length = len(codes[0]) if codes else 0
        super().__init__()

    @staticmethod
    def encode(metas: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]], npt.NDArray[np.int32]]:
        keys = sorted({key for meta in metas for key in meta})
        values: list[list[Any]] = [[] for _ in keys]
        codes = np.full((len(metas), len(keys)), -1, dtype=np.int32)
        seen: list[dict[tuple[str, str], int]] = [{} for _ in keys]
        for row, meta in enumerate(metas):
            for k, key in enumerate(keys):
                if key in meta:
                    value = meta[key]
                    token = (type(value).__name__, repr(value))  # 1, True and "1" stay apart
                    code = seen[k].setdefault(token, len(values[k]))
                    if code == len(values[k]):
                        values[k].append(value)
                    codes[row, k] = code
        return keys, values, codes

    def __len__(self) -> int:
        return self._length

    def where(self, key: str, test: Callable[[Any], bool]) -> npt.NDArray[np.bool_]:
        """Rows whose value of `key` passes `test` (absent: never), testing each distinct value once."""
        if key not in self.keys:
            return np.zeros(self._length, dtype=bool)
        k = self.keys.index(key)
        passing = [code for code, value in enumerate(self.values[k]) if test(value)]
        return np.isin(np.asarray(self.codes[k]), passing)

    def _item(self, row: int) -> ChunkMeta:
        return cast(ChunkMeta, {key: values[code[row]] for key, values, code in self._columns if code[row] >= 0})

    def __iter__(self) -> Iterator[ChunkMeta]:
        """Views, not dicts: a scan over every row (a filter mask, the health counts) reads one or
        two keys of each, and a view costs a tenth of building the dict."""
        index = {key: k for k, key in enumerate(self.keys)}
        return (MetaRow(self, index, row) for row in range(self._length))  # type: ignore[misc]


class MetaRow(Mapping[str, Any]):
    """One row of MetaColumns, read key by key."""

    __slots__ = ("columns", "index", "row")

    def __init__(self, columns: MetaColumns, index: dict[str, int], row: int) -> None:
        self.columns = columns
        self.index = index
        self.row = row

    def __getitem__(self, key: str) -> Any:
        k = self.index[key]
        code = self.columns.codes[k][self.row]
        if code < 0:
            raise KeyError(key)
        return self.columns.values[k][code]

    def get(self, key: str, default: Any = None) -> Any:
        k = self.index.get(key)
        code = -1 if k is None else self.columns.codes[k][self.row]
        return default if code < 0 else self.columns.values[k][code]  # type: ignore[index]

    def __iter__(self) -> Iterator[str]:
        return (key for key in self.columns.keys if self.columns.codes[self.index[key]][self.row] >= 0)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class SentenceColumn(Column[Sentence]):
    """Sentences as (chunk, start, end) rows; the text is cut from the chunk's text on access."""

    def __init__(self, rows: Ints, texts: Sequence[str]) -> None:
        super().__init__()
        self.rows = rows
        self.texts = texts

    def __len__(self) -> int:
        return len(self.rows)

    def _item(self, row: int) -> Sentence:
        chunk, start, end = (int(x) for x in self.rows[row])
        return Sentence(chunk, start, end, self.texts[chunk][start:end])


class Vocabulary:
    """Term -> number, growing as terms are met."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms: list[str] = list(terms)
        self.number = {term: i for i, term in enumerate(self.terms)}

    def ids(self, terms: Iterable[str]) -> list[int]:
        out = []
        for term in terms:
            i = self.number.get(term)
            if i is None:
                i = self.number[term] = len(self.terms)
                self.terms.append(term)
            out.append(i)
        return out


class TermColumn(Column[set[str]]):
    """A set of terms per row, as term numbers (CSR: `pointers[i]:pointers[i + 1]` into `ids`)."""

    def __init__(self, vocabulary: list[str], pointers: Ints, ids: Ints) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.pointers = pointers
        self.ids = ids

    @classmethod
    def build(cls, rows: Iterable[Iterable[str]], vocabulary: Vocabulary, repeats: bool = False) -> TermColumn:
        """Each row's distinct terms, or with `repeats` every term in order (a bag: counts matter)."""
        pointers, ids = [0], []
        for row in rows:
            numbers = vocabulary.ids(row)
            ids.extend(numbers if repeats else sorted(set(numbers)))
            pointers.append(len(ids))
        return cls(vocabulary.terms, np.asarray(pointers, dtype=np.int64), np.asarray(ids, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.pointers) - 1

    def _item(self, row: int) -> set[str]:
        vocabulary = self.vocabulary
        return {vocabulary[i] for i in self.ids[int(self.pointers[row]) : int(self.pointers[row + 1])].tolist()}

    def idf(self) -> dict[str, float]:
        """Rarity among rows, for every term at least one row has."""
        counts = np.bincount(np.asarray(self.ids, dtype=np.int64), minlength=len(self.vocabulary))
        size = len(self)
        return {self.vocabulary[i]: math.log(1 + (size - n + 0.5) / (n + 0.5))
                for i, n in enumerate(counts.tolist()) if n}


class RangeMap(Mapping[int, list[int]]):
    """Row -> the consecutive item numbers `pointers[row]:pointers[row + 1]`; rows with none are absent."""

    def __init__(self, pointers: Ints) -> None:
        self.pointers = pointers

    @classmethod
    def of_sorted(cls, owners: Ints, rows: int) -> RangeMap:
        """For items sorted by owner row: where each row's items start and end."""
        return cls(np.searchsorted(np.asarray(owners), np.arange(rows + 1), side="left").astype(np.int64))

    def __getitem__(self, row: int) -> list[int]:
        if not isinstance(row, int | np.integer) or not 0 <= row < len(self.pointers) - 1:
            raise KeyError(row)
        start, end = int(self.pointers[row]), int(self.pointers[row + 1])
        if start == end:
            raise KeyError(row)
        return list(range(start, end))

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in np.flatnonzero(np.diff(self.pointers)))

    def __len__(self) -> int:
        return int(np.count_nonzero(np.diff(self.pointers)))


class LazyMap(Mapping[int, V], Generic[V]):
    """Row -> a value computed on first access and kept; `make` returns None for rows that have none."""

    def __init__(self, make: Callable[[int], V | None], rows: int) -> None:
        self.make = make
        self.rows = rows
        self._made: dict[int, V | None] = {}

    def __getitem__(self, row: int) -> V:
        if row not in self._made:
            self._made[row] = self.make(row) if isinstance(row, int | np.integer) and 0 <= row < self.rows else None
        value = self._made[row]
        if value is None:
            raise KeyError(row)
        return value

    def __iter__(self) -> Iterator[int]:
        return (row for row in range(self.rows) if row in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)
