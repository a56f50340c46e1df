"""The provider registry: which clouds the knowledge base knows, how they are named, and the words
that mention them. Front matter, eval cases, retrieval filters, chunk tagging, follow-ups and the web
UI's filter all read it from here, so a new provider is one entry."""

from __future__ import annotations

import re
from typing import Literal, get_args

Provider = Literal["aws", "gcp", "azure", "cloudflare", "vercel", "netlify"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)

# How each provider is shown to a person (the web UI's filter).
LABELS: dict[Provider, str] = {"aws": "AWS", "gcp": "GCP", "azure": "Azure", "cloudflare": "Cloudflare",
                               "vercel": "Vercel", "netlify": "Netlify"}

# Words that mention a provider (lower-case text); a chunk mentioning one is tagged with it.
PROVIDER_TERMS: dict[Provider, str] = {
    "aws": r"\baws\b|amazon|lambda\b|dynamodb|\bs3\b|\bsqs\b|\bsns\b|eventbridge|step functions|cloudformation|"
           r"\bsam\b|cognito|api gateway|kinesis|x-ray|cloudwatch|aurora|\bcdk\b|graviton|snapstart",
    "gcp": r"\bgcp\b|google cloud|cloud functions?\b|cloud run|pub/sub|pubsub|firestore|bigquery|"
           r"cloud tasks|cloud workflows",
    "azure": r"\bazure\b|cosmos ?db|durable functions|event grid|service bus|event hubs|app insights|"
             r"application insights|entra",
    "cloudflare": r"cloudflare|\bworkers? kv\b|durable objects|\br2\b|wrangler",
    "vercel": r"\bvercel\b",
    "netlify": r"\bnetlify\b",
}
# Any provider's words, for cutting them out of a text (case-insensitive).
ANY_PROVIDER_WORD = re.compile("|".join(f"(?:{terms})" for terms in PROVIDER_TERMS.values()), re.I)


def providers_in(text: str) -> tuple[Provider, ...]:
    """The providers a text mentions, in registry order."""
    lowered = text.lower()
    return tuple(p for p in PROVIDERS if re.search(PROVIDER_TERMS[p], lowered))


def check_provider(value: str) -> Provider:
    """`value` as a Provider, or a ValueError naming the ones that exist."""
    for provider in PROVIDERS:
        if value == provider:
            return provider
    raise ValueError(f"unknown provider {value!r}; use one of: {', '.join(PROVIDERS)}")
