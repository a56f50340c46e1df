"""Whether to answer at all: out-of-scope requests and weak evidence lead to an abstention."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.corpus import Corpus
from bot.retrieve import Retrieval
from bot.text import STOPWORDS, stem, term_set, words
from ingest.settings import AnswerSettings

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|guidelines|system|previous|above)\b"
    r"|\b(system prompt|jailbreak|developer mode|you are now|from now on,? you|pretend (to be|you are)|roleplay)",
    re.I,
)


@dataclass(frozen=True)
class Verdict:
    answer: bool
    reason: str  # why not, for logs and evals
    evidence: float = 0.0


def is_injection(question: str) -> bool:
    return _INJECTION.search(question) is not None


def is_gibberish(question: str, corpus: Corpus) -> bool:
    """Most words are neither English function words nor known to the knowledge base."""
    tokens = [w for w in words(question) if len(w) > 1 and not w.isdigit()]
    if not tokens or corpus.bm25 is None:
        return not tokens
    vocab = corpus.bm25.vocab_dict
    known = [w for w in tokens if w in STOPWORDS or stem(w) in vocab]
    return len(known) / len(tokens) < 0.5


def coverage(question: str, retrieval: Retrieval, corpus: Corpus, top: int = 3) -> float:
    """Share of the question's content terms that appear in the top retrieved chunks."""
    wanted = term_set(question)
    if not wanted:
        return 0.0
    found: set[str] = set()
    for hit in retrieval.hits[:top]:
        found |= corpus.term_sets[hit.row]
    return len(wanted & found) / len(wanted)


def judge(question: str, retrieval: Retrieval, corpus: Corpus, settings: AnswerSettings) -> Verdict:
    if is_injection(question):
        return Verdict(False, "instruction override attempt")
    if not retrieval.hits:
        return Verdict(False, "nothing retrieved")
    if is_gibberish(question, corpus):
        return Verdict(False, "unrecognised words")
    score = evidence(question, retrieval, corpus, settings)
    if score >= settings.min_evidence:
        return Verdict(True, "", score)
    return Verdict(False, "weak evidence", score)


def evidence(question: str, retrieval: Retrieval, corpus: Corpus, settings: AnswerSettings) -> float:
    """How well the top results support an answer, in [0, 1]: meaning and wording together."""
    if not retrieval.hits:
        return 0.0
    dense = max(0.0, max(h.dense for h in retrieval.hits[:3]))
    weight = settings.dense_weight
    return weight * dense + (1 - weight) * coverage(question, retrieval, corpus)
