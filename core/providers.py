"""The provider registry: which clouds the knowledge base knows, how they are named, and the words
that mention them. Front matter, eval cases, retrieval filters, chunk tagging, follow-ups and the web
UI's filter all read it from here, so a new provider is one entry."""

from __future__ import annotations

import functools
import re
from typing import Literal, get_args

from core.vocabulary import vocabulary

Provider = Literal["aws", "gcp", "azure", "cloudflare", "vercel", "netlify"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)

# How each provider is shown to a person (the web UI's filter), and the words that mention it in
# lower-case text (a chunk mentioning one is tagged with it): data, in kb/vocabulary.yaml.
LABELS: dict[Provider, str] = {p: vocabulary().providers[p].label for p in PROVIDERS}
PROVIDER_TERMS: dict[Provider, str] = {p: "|".join(vocabulary().providers[p].terms) for p in PROVIDERS}
# Any provider's words, for cutting them out of a text (case-insensitive).
ANY_PROVIDER_WORD = re.compile("|".join(f"(?:{terms})" for terms in PROVIDER_TERMS.values()), re.I)


@functools.lru_cache(maxsize=8192)
def providers_in(text: str) -> tuple[Provider, ...]:
    """The providers a text mentions, in registry order (cached: the composer asks it of the same
    question and of the same sentences for every candidate)."""
    lowered = text.lower()
    return tuple(p for p in PROVIDERS if re.search(PROVIDER_TERMS[p], lowered))


def check_provider(value: str) -> Provider:
    """`value` as a Provider, or a ValueError naming the ones that exist."""
    for provider in PROVIDERS:
        if value == provider:
            return provider
    raise ValueError(f"unknown provider {value!r}; use one of: {', '.join(PROVIDERS)}")
