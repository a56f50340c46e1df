"""Whether to answer at all: out-of-scope requests and weak evidence lead to an abstention."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answer import Answer
from bot.corpus import Corpus
from bot.retrieve import Retrieval
from bot.text import STOPWORDS, stem, term_set, terms, words
from core.providers import PROVIDERS
from core.settings import AnswerSettings
from core.vocabulary import vocabulary

_INJECTION = re.compile("|".join(vocabulary().injection), re.I)  # kb/vocabulary.yaml
_MISUSE = re.compile("|".join(vocabulary().misuse), re.I)
INJECTION = "instruction override attempt"
MISUSE = "request to attack or abuse a system"


# A name in a question: a capitalised word not opening a sentence (Postgres, Middy), a camelCase
# identifier, a word with two or more hyphens (aspectj-maven-plugin), or a configuration or code
# file name (wrangler.toml, host.json).
_NAMED = re.compile(r"(?<![.?!:]\s)(?<!^)(?<![\w-])([A-Z][\w.+-]*[A-Za-z0-9]|[a-z]+[A-Z]\w*|\w+(?:-\w+){2,}"
                    r"|[\w-]+\.(?:toml|ya?ml|json|tf|hcl|ini|cfg|conf)\b)")

DEFAULTS = AnswerSettings()  # for callers without settings (tests, the calibration sweep)


@dataclass(frozen=True)
class Verdict:
    answer: bool
    reason: str  # why not, for logs and evals
    evidence: float = 0.0
    unknown: tuple[str, ...] = ()  # names the question is about that the knowledge base never mentions


def unknown_names(question: str, corpus: Corpus, settings: AnswerSettings = DEFAULTS) -> list[str]:
    """Names (products, tools, services) in the question that no chunk of the knowledge base contains."""
    if corpus.bm25 is None:
        return []
    vocab = corpus.bm25.vocab_dict
    found = []
    for name in _NAMED.findall(question.strip()):
        # A hyphenated compound is known when its first word is ("SQS-triggered" is about SQS), but
        # not for a word that merely ends it ("aspectj-maven-plugin" is not about plugins).
        parts = terms(name) + terms(name.split("-")[0])
        if parts and not any(p in vocab for p in parts) and name.lower() not in STOPWORDS \
                and not _inside_identifier(name.lower(), vocab, settings.min_inside):
            found.append(name)
    return list(dict.fromkeys(found))


def is_context(name: str, question: str) -> bool:
    """The name is the asker's setting, not what they ask about ("our SPA", "(ASL)", "New York
    time"): patterns from kb/vocabulary.yaml."""
    return any(re.search(pattern.replace("NAME", re.escape(name)), question, re.I)
               for pattern in vocabulary().context_names)


def _inside_identifier(name: str, vocab: dict[str, int], min_inside: int) -> bool:
    """A long name the corpus uses only inside a longer identifier: "DocumentClient" in
    `DynamoDB.DocumentClient` or `DynamoDBDocumentClient` (shorter names inside identifiers are
    coincidences: "spa" in "workspace")."""
    return len(name) >= min_inside and name.isalnum() and any(name in term for term in vocab)


def is_injection(question: str) -> bool:
    return _INJECTION.search(question) is not None


def is_misuse(question: str) -> bool:
    return _MISUSE.search(question) is not None


def is_gibberish(question: str, corpus: Corpus, settings: AnswerSettings = DEFAULTS) -> bool:
    """Most words are neither English function words nor known to the knowledge base."""
    tokens = [w for w in words(question) if len(w) > 1 and not w.isdigit()]
    if not tokens or corpus.bm25 is None:
        return not tokens
    vocab = corpus.bm25.vocab_dict
    known = [w for w in tokens if w in STOPWORDS or stem(w) in vocab]
    return len(known) / len(tokens) < settings.gibberish_share


def coverage(question: str, retrieval: Retrieval, corpus: Corpus, top: int = DEFAULTS.coverage_depth) -> float:
    """Share of the question's content terms that appear in the top retrieved chunks. (Counting only
    the words the corpus knows was tried: it let near-domain questions through.)"""
    wanted = term_set(question)
    if not wanted:
        return 0.0
    found: set[str] = set()
    for hit in retrieval.hits[:top]:
        found |= corpus.term_sets[hit.row]
    return len(wanted & found) / len(wanted)


def judge(question: str, retrieval: Retrieval, corpus: Corpus, settings: AnswerSettings) -> Verdict:
    if is_injection(question):
        return Verdict(False, INJECTION)
    if is_misuse(question):
        return Verdict(False, MISUSE)
    if not retrieval.hits:
        return Verdict(False, "nothing retrieved")
    if is_gibberish(question, corpus, settings):
        return Verdict(False, "unrecognised words")
    score = evidence(question, retrieval, corpus, settings)
    # Only a name the question is about counts: "our SPA" or "New York time" sets the scene, and
    # saying the knowledge base lacks it would cast doubt on an answer that does not need it.
    unknown = tuple(name for name in unknown_names(question, corpus, settings) if not is_context(name, question))
    if unknown and score < settings.unknown_name_evidence:
        return Verdict(False, f"the knowledge base does not mention {', '.join(unknown)}", score, unknown)
    if score >= settings.min_evidence:
        return Verdict(True, "", score, unknown)
    return Verdict(False, "weak evidence", score, unknown)


def evidence(question: str, retrieval: Retrieval, corpus: Corpus, settings: AnswerSettings) -> float:
    """How well the top results support an answer, in [0, 1]: meaning and wording together."""
    if not retrieval.hits:
        return 0.0
    # A long section answers a chatty question in one of its sentences: count the closer of the two.
    top = retrieval.hits[:3]
    dense = max(0.0, float(corpus.closeness([h.row for h in top], retrieval.vector, [h.dense for h in top]).max()))
    weight = settings.dense_weight
    return weight * dense + (1 - weight) * coverage(question, retrieval, corpus, settings.coverage_depth)


def coverage_gap(question: str, evidence_rows: Sequence[int], corpus: Corpus, unknown: tuple[str, ...],
                 settings: AnswerSettings = DEFAULTS, closeness: float = 0.0) -> str:
    """What the answer cannot cover, said plainly: names the knowledge base never mentions, a
    provider the question names that no source is about, or the question's key concept when no
    retrieved chunk mentions it. The key concept is one of the question's two rarest topic words
    (words the corpus uses in document titles or tags): rare everyday words ("flaky", "soon") say
    nothing about coverage. It is only noted when the sources are also far in meaning from the
    question (`closeness`, their best cosine): a close source answered it without the word."""
    if unknown:
        return (f"The knowledge base does not mention {', '.join(unknown)}; "
                "these points are the closest material it has.")
    found = set().union(*(corpus.term_sets[row] for row in evidence_rows))
    about = {p for row in evidence_rows for p in corpus.metas[row].get("providers", [])}
    missing: list[str] = [p for p in PROVIDERS if p in set(words(question)) and p not in about
                          and stem(p) not in found]
    if not missing and closeness < settings.gap_closeness:
        asked = term_set(question)
        missing = [t for t in corpus.key_terms(corpus.topical(asked), settings.key_terms) if t not in found]
    if not missing:
        return ""
    word = next((w for w in words(question) if stem(w) == missing[0]), missing[0])
    return (f"The sources found do not mention \"{word}\", so the knowledge base may not cover it; "
            "these points are the closest material.")


def with_coverage_note(answer: Answer, note: str) -> Answer:
    if not note:
        return answer
    return answer.model_copy(update={"coverage_note": note, "answer": f"_{note}_\n\n{answer.answer}"})
