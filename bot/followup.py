"""Follow-up questions, without an LLM: "and on Azure?" after a retries question means retries on Azure."""

from __future__ import annotations

import re

from bot.text import term_set, words
from core.providers import ANY_PROVIDER_WORD, providers_in

_FOLLOWUP_START = re.compile(r"^(and|but|also|or|what about|how about|same|then|so|ok|okay|now)\b", re.I)
_DEMONSTRATIVE = "that|this|those|these"
_PRONOUN = re.compile(rf"\b(it|its|{_DEMONSTRATIVE}|them|there|one|ones)\b", re.I)
# A demonstrative as the subject of a question ("what would that cost", "does this scale"; not "the
# problem is that Lambda...") or as the object at its end ("the Terraform for that?") points back,
# however long the question is.
_POINTS_BACK = re.compile(rf"(^|\b(what|how|why|where|when|which)(\s+\w+)?\s+)"
                          rf"(would|will|does|did|do|could|can|should|is|was|are)\s+({_DEMONSTRATIVE}|they)\b"
                          rf"|\b(of|for|with|about|on|to|do|does|like)\s+({_DEMONSTRATIVE}|them)\s*[?.!]*$", re.I)
_LONGEST_FOLLOWUP = 16  # words: a longer question states its own topic


def is_followup(question: str) -> bool:
    content = term_set(question)
    if _FOLLOWUP_START.match(question) and len(content) <= 6:
        return True
    size = len(words(question))
    if size <= 8 and (_PRONOUN.search(question) is not None or len(content) <= 2):
        return True
    return size <= _LONGEST_FOLLOWUP and _POINTS_BACK.search(question) is not None


def contextualize(question: str, history: list[str]) -> str:
    """The retrieval query: the question alone, or merged with the previous one for a follow-up. The
    previous one is read in its own context first: after "How do I retry SQS failures?" and "and on
    Azure?", "what would that cost?" is about retries on Azure, not about "and on Azure?" alone."""
    if not history or not is_followup(question):
        return question
    previous = contextualize(history[-1], history[:-1])
    if providers_in(question) and set(providers_in(question)) != set(providers_in(previous)):
        # The user switched provider: keep the topic, drop the old provider's service names.
        previous = ANY_PROVIDER_WORD.sub(" ", previous)
    return f"{' '.join(previous.split())} {question}"
