"""Follow-up questions, without an LLM: "and on Azure?" after a retries question means retries on Azure."""

from __future__ import annotations

import re

from bot.text import term_set, words
from core.providers import ANY_PROVIDER_WORD, providers_in

_FOLLOWUP_START = re.compile(r"^(and|but|also|or|what about|how about|same|then|so|ok|okay|now)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|that|this|those|these|them|there|one|ones)\b", re.I)


def is_followup(question: str) -> bool:
    content = term_set(question)
    if _FOLLOWUP_START.match(question) and len(content) <= 6:
        return True
    return len(words(question)) <= 8 and (_PRONOUN.search(question) is not None or len(content) <= 2)


def contextualize(question: str, history: list[str]) -> str:
    """The retrieval query: the question alone, or merged with the previous one for a follow-up."""
    if not history or not is_followup(question):
        return question
    previous = history[-1]
    if providers_in(question) and set(providers_in(question)) != set(providers_in(previous)):
        # The user switched provider: keep the topic, drop the old provider's service names.
        previous = ANY_PROVIDER_WORD.sub(" ", previous)
    return f"{' '.join(previous.split())} {question}"
