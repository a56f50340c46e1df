"""Question input: cleaned the same way for every channel."""

from __future__ import annotations

import unicodedata

from core.errors import QuestionError

MAX_CHARS = 2000
# Bidi overrides and isolates can make text display differently from what is processed.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def clean_question(raw: str) -> str:
    """Strip, NFC-normalise and drop control and bidi characters; refuse empty or overlong input."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or (ch not in _BIDI and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    )
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty; ask something like 'How do I reduce Lambda cold starts?'")
    if len(text) > MAX_CHARS:
        raise QuestionError(f"the question is {len(text):,} characters long; the limit is {MAX_CHARS:,}")
    return text
