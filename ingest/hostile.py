"""Text addressed to an assistant is not knowledge: a document may try to steer whoever reads it.

Such sentences (instruction overrides, "you are now...", role-play, requests for secrets or the
system prompt) are flagged at ingest (`kb ingest --explain` lists them), left out of the answer
sentences, and refused again by the composer, so they never become an answer point whatever the
index holds. The patterns need the assistant-directed form ("ignore the previous instructions",
"reply with the password"), so ordinary security advice ("never log the API key") is not caught;
`kb ingest --explain` on kb/, the seeds and the corpora shows what they catch.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an instruction override", re.compile(
        r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|of\s+|the\s+|your\s+|these\s+|my\s+)*"
        r"(previous|prior|above|earlier|preceding|system|original|other)?\s*"
        r"(instructions|prompts?|directives|guidelines|rules)\b", re.I)),
    ("addresses the assistant's identity", re.compile(
        r"(^|[.!?]\s+)(you\s+are|you're)\s+(now\s+)?(an?\s+|the\s+)?(ai|assistant|chatbot|language model|llm|gpt"
        r"|unrestricted|jailbroken)\b|\bfrom now on,?\s+you\b|\bas an ai( language model)?\b", re.I)),
    ("asks for role-play", re.compile(
        r"\b(pretend\s+(to\s+be|you\s+are)|roleplay\s+as|role-play\s+as|act\s+as\s+if\s+you)\b", re.I)),
    ("asks for secrets or the system prompt", re.compile(
        r"\b(reply|respond|answer)\s+with\b.{0,40}\b(password|passphrase|secret|credentials?|api\s+key|token)s?\b"
        r"|\b(tell|give|show|send)\s+me\b.{0,40}\b(password|passphrase|secret|credentials?|api\s+key)s?\b"
        r"|\b(reveal|print|repeat|output)\s+(your|the)\s+(system\s+prompt|instructions|hidden\s+prompt)\b"
        r"|\bsystem\s+prompt\b|\bjailbreak\b|\bdeveloper\s+mode\b", re.I)),
)


def addressed_to_assistant(text: str) -> str:
    """Why this text addresses an assistant rather than describing architecture, or ""."""
    for reason, pattern in _PATTERNS:
        if pattern.search(text):
            return reason
    return ""
