"""Word-level text helpers shared by BM25, the composer and the scope checks."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping

import Stemmer

from core.vocabulary import vocabulary

_WORD = re.compile(r"[a-z0-9][a-z0-9\-\.]*[a-z0-9]|[a-z0-9]")
STOPWORDS = frozenset(vocabulary().stopwords)  # kb/vocabulary.yaml


# Part of the BM25 and snapshot cache keys: a stemming or stopword change must rebuild them.
TERMS_VERSION = "snowball-2-" + hashlib.sha256("\n".join(sorted(STOPWORDS)).encode()).hexdigest()[:8]
_STEMMER = Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball (Porter 2) for plain words, so "idempotent" meets "idempotency"; identifiers stay whole."""
    if not word.isalpha() or len(word) <= 3:  # acronyms: "aws" is not the plural of "aw"
        return word
    return str(_STEMMER.stemWord(word))


def rarest(candidates: Iterable[str], idf: Mapping[str, float], count: int = 1) -> list[str]:
    """The rarest of these terms that `idf` knows, rarest first: what a question is about, more than
    its context words."""
    known = sorted({t for t in candidates if t in idf}, key=lambda t: (idf[t], t), reverse=True)
    return known[:count]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def terms(text: str) -> list[str]:
    """Stemmed content words, in order, repeats kept (for BM25)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit()]


def term_set(text: str) -> set[str]:
    return set(terms(text))
