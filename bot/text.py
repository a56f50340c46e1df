"""Word-level text helpers shared by BM25, the composer and the scope checks."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

import Stemmer

_WORD = re.compile(r"[a-z0-9][a-z0-9\-\.]*[a-z0-9]|[a-z0-9]")
STOPWORDS = frozenset(
    (
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "ok",
        "okay",
        "please",
        "thanks",
        "thank",
        "tell",
        "explain",
        "give",
        "show",
        "want",
        "need",
        "use",
        "using",
        "used",
        "get",
        "make",
        "best",
        "way",
        "ways",
        "good",
        "like",
        "know",
        "let",
        "lets",
        "help",
        "does",
        "do",
        "doing",
        "what's",
        "how's",
        "i'm",
        "i've",
        "it's",
        "can't",
        "don't",
    )
)


TERMS_VERSION = "snowball-2"  # part of the BM25 cache key: a stemming change must rebuild it
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
