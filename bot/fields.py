"""Field-weighted BM25 (BM25F) over documents: title, tags, summary and heading words.

Exact, over every document; postings are flat arrays built from the corpus's term columns.
Each field's term frequency is length-normalised within the field, weighted, and summed before
BM25 saturation, so a word in the title counts more than the same word in a heading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from bot.columns import TermColumn, Vocabulary
from bot.text import rarest

K1 = 1.2
B = 0.75


class FieldIndex:
    """Postings as arrays (`pointers[t]:pointers[t + 1]` into `docs` and `tf` for term number t), built
    from each field's term column with a few vectorised passes: a saved snapshot holds the columns,
    so a cold `kb ask` at 100k chunks builds this in tens of milliseconds, not a second."""

    def __init__(self, fields: Mapping[str, TermColumn], weights: Mapping[str, float],
                 idf: Mapping[str, float] | None = None) -> None:
        columns = [(fields[name], weight) for name, weight in weights.items() if weight > 0 and name in fields]
        some = next(iter(fields.values()), None)
        self.size = len(some) if some is not None else 0
        vocabulary = some.vocabulary if some is not None else []
        size = max(self.size, 1)
        keys, values = [], []
        for column, weight in columns:  # in the weights' order: a document's fields add up as they always did
            pointers = np.asarray(column.pointers, dtype=np.int64)
            lengths = pointers[1:] - pointers[:-1]
            average = float(lengths.sum()) / len(lengths) if len(lengths) and lengths.sum() else 1.0
            norm = 1 - B + B * lengths / average
            owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
            unique, counts = np.unique(np.asarray(column.ids, dtype=np.int64) * size + owner, return_counts=True)
            keys.append(unique)
            values.append(weight * counts / norm[unique % size])
        every = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        unique, inverse = np.unique(every, return_inverse=True)
        self.tf = np.bincount(inverse, weights=np.concatenate(values)) if keys else np.zeros(0)
        self.docs = unique % size
        self.pointers = np.searchsorted(unique // size, np.arange(len(vocabulary) + 1))
        # Rarity may come from elsewhere: in a corpus of five long documents every word is in most
        # of them, but not in most of their chunks.
        frequency = np.diff(self.pointers)
        # Only the terms some document field has: the vocabulary is the whole corpus's, chunks' words included.
        self.number = {vocabulary[t]: int(t) for t in np.flatnonzero(frequency)}
        self.idf: Mapping[str, float] = idf if idf is not None else \
            {term: math.log(1 + (self.size - int(frequency[t]) + 0.5) / (int(frequency[t]) + 0.5))
             for term, t in self.number.items()}

    @classmethod
    def of(cls, documents: Sequence[Mapping[str, Sequence[str]]], weights: Mapping[str, float],
           idf: Mapping[str, float] | None = None) -> FieldIndex:
        """From each document's term lists by field (repeats count)."""
        vocabulary = Vocabulary()
        names = sorted({name for doc in documents for name in doc} | set(weights))
        return cls({name: TermColumn.build((doc.get(name, ()) for doc in documents), vocabulary, repeats=True)
                    for name in names}, weights, idf)

    def scores(self, query: Sequence[str], boost: Mapping[str, float] | None = None) -> np.ndarray:
        """BM25F scores of every document; `boost` multiplies chosen query terms' contributions."""
        out = np.zeros(self.size, dtype=np.float64)
        for term in set(query):
            number = self.number.get(term)
            if number is None:
                continue
            weight = self.idf.get(term, 0.0) * (boost or {}).get(term, 1.0)
            found = slice(int(self.pointers[number]), int(self.pointers[number + 1]))
            tf = self.tf[found]
            out[self.docs[found]] += weight * tf / (K1 + tf)
        return out

    def key_term(self, query: Sequence[str]) -> str | None:
        """The question's rarest known word: what it is about, more than its context words."""
        return next(iter(rarest(query, self.idf)), None)
