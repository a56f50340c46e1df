"""The text-unit rules: where a sentence ends, what a bullet, a link and a citation marker look like,
and how many words a quotable unit has.

Ingest stores each prose chunk's answer sentences as spans cut by `sentence_spans`; the composer
quotes them, the LLM post-check splits a model's reply into claims, the chunker falls back to
sentences for an over-long paragraph and the renderer finds the quoted spans to highlight. They all
use these rules, so they agree on what one sentence is.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

BULLET = re.compile(r"^\s*([-*+]|\d+[.)])\s+")  # a list item's marker, at any indentation
NUMBERED = re.compile(r"[ \t]*(\d+)[.)][ \t]+(?:\*\*)?")  # a numbered item's marker ("2. ", "3) **")
CHECKBOX = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[[ xX]\]\s+")  # a task list item's marker and box
# A top-level list item (indented at most 3 spaces, as CommonMark has it): where the chunker may cut an
# over-long list; a nested item stays with its parent there, while an answer unit is any item.
TOP_LEVEL_ITEM = re.compile(r"^\s{0,3}([-*+]|\d+[.)])\s")
TABLE_OR_RULE = re.compile(r"^\s*(\||-{3,}|={3,})")
# A sentence ends at . ! or ? after a lower-case letter, digit or closing mark ("U.S. Army" and
# "e.g. Lambda" stay whole unless a capital follows the space), before a capital, digit or opening mark.
SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]`*\"'][.!?])\s+(?=[A-Z0-9\"'(*`\[])")
CITATION = re.compile(r"\[(\d+)\]")  # an answer point's [n]
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # a markdown link or image; group 1 is its text
BOLD = re.compile(r"(\*\*|__)(.+?)\1")  # **strong** or __strong__; group 2 is its text
MIN_WORDS = 4  # fewer words are a heading, a label or a fragment, not a point worth quoting


def strip_links(text: str) -> str:
    """Links and images become their text."""
    return LINK.sub(r"\1", text)


def strip_bold(text: str) -> str:
    return BOLD.sub(r"\2", text)


def strip_citations(text: str) -> str:
    """The text without [n] markers (and the space before each)."""
    return re.sub(r"\s*" + CITATION.pattern, "", text)


def strip_bullet(text: str) -> str:
    """The list marker and a task list's checkbox ("- [ ] DLQ configured" reads "DLQ configured")."""
    return BULLET.sub("", CHECKBOX.sub("", text, count=1), count=1)


def step_number(text: str, start: int) -> int | None:
    """The number of the numbered list item that a unit starting at `start` opens, or None (the unit
    starts mid-item, or its line is not a numbered item). The marker may be inside the unit or not."""
    line = text.rfind("\n", 0, start) + 1
    marker = NUMBERED.match(text, line)
    return int(marker.group(1)) if marker and line <= start <= marker.end() else None


def is_quotable(text: str) -> bool:
    return len(text.split()) >= MIN_WORDS


def line_units(text: str) -> list[Span]:
    """Bullets (with their continuation lines) and paragraphs, as spans; headings, tables and rules
    are not units."""
    units: list[Span] = []
    offset = 0
    current: Span | None = None
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip() or TABLE_OR_RULE.match(line) or line.lstrip().startswith("#"):
            current = None
            continue
        continues = current is not None and not BULLET.match(line)
        if continues and current is not None:
            current = (current[0], end)
            units[-1] = current
        else:
            current = (start, end)
            units.append(current)
    return units


def split_sentences(text: str) -> list[str]:
    """The sentences of one piece of text, at SENTENCE_END (nothing trimmed or dropped)."""
    return SENTENCE_END.split(text)


def _sentences(text: str, span: Span) -> list[Span]:
    start, end = span
    spans: list[Span] = []
    cursor = 0
    for match in SENTENCE_END.finditer(text[start:end]):
        spans.append((start + cursor, start + match.start()))
        cursor = match.end()
    spans.append((start + cursor, end))
    return spans


def sentence_spans(text: str) -> list[Span]:
    """Spans of the units worth quoting: sentences of bullets and paragraphs, trimmed of surrounding
    space, with at least MIN_WORDS words."""
    spans: list[Span] = []
    for unit in line_units(text):
        for start, end in _sentences(text, unit):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if is_quotable(text[start:end]):
                spans.append((start, end))
    return spans


# A claim in a model's reply ends where a sentence does, unless its citation follows ("... depth. [1]"),
# and after a citation that a new sentence follows ("... [1] Then ...").
_CLAIM_END = re.compile(rf"{SENTENCE_END.pattern}(?!\[\d+\])|(?<=\])\s+(?=[A-Z])")


def split_claims(reply: str) -> list[str]:
    """A model's reply as claims, each with the citation markers that close it."""
    return [claim for line in reply.split("\n") for claim in _CLAIM_END.split(line) if claim.strip()]
