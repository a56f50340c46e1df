"""Field-weighted BM25 (BM25F) over documents: title, tags, summary and heading words.

Small and exact: documents number in the hundreds or thousands, so postings are plain dicts.
Each field's term frequency is length-normalised within the field, weighted, and summed before
BM25 saturation, so a word in the title counts more than the same word in a heading.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from bot.text import rarest

K1 = 1.2
B = 0.75


class FieldIndex:
    def __init__(self, documents: Sequence[Mapping[str, Sequence[str]]], weights: Mapping[str, float],
                 idf: Mapping[str, float] | None = None) -> None:
        self.size = len(documents)
        lengths = {f: [len(doc.get(f, ())) for doc in documents] for f in weights}
        average = {f: (sum(v) / len(v) if v and sum(v) else 1.0) for f, v in lengths.items()}
        weighted: dict[str, dict[int, float]] = {}
        for number, doc in enumerate(documents):
            for name, weight in weights.items():
                if weight <= 0:
                    continue
                norm = 1 - B + B * lengths[name][number] / average[name]
                for term, count in Counter(doc.get(name, ())).items():
                    postings = weighted.setdefault(term, {})
                    postings[number] = postings.get(number, 0.0) + weight * count / norm
        self.postings = weighted
        # Rarity may come from elsewhere: in a corpus of five long documents every word is in most
        # of them, but not in most of their chunks.
        self.idf = dict(idf) if idf is not None else \
            {t: math.log(1 + (self.size - len(p) + 0.5) / (len(p) + 0.5)) for t, p in weighted.items()}

    def scores(self, query: Sequence[str], boost: Mapping[str, float] | None = None) -> np.ndarray:
        """BM25F scores of every document; `boost` multiplies chosen query terms' contributions."""
        out = np.zeros(self.size, dtype=np.float64)
        for term in set(query):
            weight = self.idf.get(term, 0.0) * (boost or {}).get(term, 1.0)
            for number, tf in self.postings.get(term, {}).items():
                out[number] += weight * tf / (K1 + tf)
        return out

    def key_term(self, query: Sequence[str]) -> str | None:
        """The question's rarest known word: what it is about, more than its context words."""
        return next(iter(rarest(query, self.idf)), None)
