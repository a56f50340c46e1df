"""Markdown pipe tables: cells, body rows and where each row sits in the text.

Ingest stores every body row of a table chunk as an answer "sentence" with its own vector (pooled
from the same forward pass, over the row's tokens), so a question can be matched to the one row
that holds its figure; the bot reads rows out with their headers (bot.tables).
"""

from __future__ import annotations

import re

Span = tuple[int, int]
_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _body_lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, line) of each body row, in order; [] when the text is not a pipe table."""
    located = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            located.append((offset, offset + len(line), line))
        offset += len(line) + 1
    if len(located) < 3 or not _RULE.match(located[1][2]):
        return []
    return [(a, b, ln) for a, b, ln in located[2:] if "|" in ln and any(cells(ln))]


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and body rows of a pipe table (empty when the text is not one)."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) < 3 or not _RULE.match(lines[1]):
        return [], []
    return cells(lines[0]), [cells(ln) for _, _, ln in _body_lines(text)]


def row_spans(text: str) -> list[Span]:
    """The character span of every body row, in the order parse_table returns the rows."""
    spans = []
    for start, end, line in _body_lines(text):
        lead = len(line) - len(line.lstrip())
        spans.append((start + lead, end - (len(line) - len(line.rstrip()))))
    return spans
