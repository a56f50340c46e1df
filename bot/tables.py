"""Markdown table rows as quotable evidence: each row read out with its column headers.

A limit or a default often lives in one table row. "| Timeout | 1 to 900 seconds |" under the
heading "Key limits" becomes "Timeout: 1 to 900 seconds (Key limits)": the row's own cells, in
order, labelled by the header, so the point says exactly what the table says.
"""

from __future__ import annotations

import functools
import re

from bot.text import term_set
from core.text_units import strip_bold, strip_links
from core.vocabulary import vocabulary
from ingest.tables import parse_table

# Two rows are variants of one attribute when their first cells differ by at most this many words
# on each side ("Maximum execution duration, Standard workflows" / "..., Express workflows") and
# share more words than either has alone (so "Execution semantics, Standard" and "Execution
# history, Express" are two attributes, not two variants).
_VARIANT_WORDS = 2

# Headers that only say "the figure is here": the first value under one reads better unlabelled
# ("Maximum timeout: 900 seconds; Adjustable No", not "Maximum timeout: Value 900 seconds; ...").
_PLAIN_HEADERS = frozenset({"value", "values", "limit", "limits", "default", "quota", "amount", "setting"})


def row_sentences(text: str, heading: str) -> list[str]:
    """Every body row as one sentence: first cell, then each other cell labelled by its header."""
    return [sentence for _, sentence in indexed_rows(text, heading)]


def indexed_rows(text: str, heading: str) -> list[tuple[int, str]]:
    """(row index, sentence) for every body row that reads as one; the index matches row_spans."""
    suffix = f" ({heading})" if heading else ""
    return [(index, f"{said}{suffix}.") for index, said in row_cells(text)]


@functools.lru_cache(maxsize=4096)
def row_cells(text: str) -> tuple[tuple[int, str], ...]:
    """(row index, what its cells say: "first cell: labelled values") for every body row that reads as
    one, without the heading every row carries; parsed once per table, not for every question that
    quotes it."""
    header, rows = parse_table(text)
    out = []
    for index, row in enumerate(rows):
        cells = [_plain(c) for c in row]
        if not cells or not cells[0]:
            continue
        rest = [(h, c) for h, c in zip(header[1:], cells[1:], strict=False) if c]
        if not rest:
            continue
        body = rest[0][1] if len(rest) == 1 else "; ".join(
            f"{_plain(h)} {c}" if h and not (i == 0 and _plain(h).lower() in _PLAIN_HEADERS) else c
            for i, (h, c) in enumerate(rest))
        out.append((index, f"{cells[0]}: {body}"))
    return tuple(out)


def asked_extents(question: str) -> frozenset[str]:
    """The terms a row names an extent with, for each extent the question asks for ("how long" asks
    for a duration, a timeout or a lifetime); empty when it asks for none."""
    lowered = question.lower()
    return frozenset(term for asks, names in _measures() if asks.search(lowered) for term in names)


@functools.cache
def _measures() -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    """The vocabulary's measures, each as one pattern for its asks and the terms of its names."""
    return tuple((re.compile("|".join(f"(?:{a})" for a in m.asks)), frozenset(term_set(" ".join(m.names))))
                 for m in vocabulary().measures.values())


def naming_rows(text: str, extents: frozenset[str]) -> set[int]:
    """Rows whose first cell names one of the extents: "Maximum execution duration, Standard" for a
    question that asks how long. Indexed as in indexed_rows."""
    if not extents:
        return set()
    return {i for i, name in _row_names(text) if extents & name}


@functools.lru_cache(maxsize=4096)
def _row_names(text: str) -> tuple[tuple[int, frozenset[str]], ...]:
    """(row, terms of its first cell) for every body row that has one: what each row is about,
    parsed once per table."""
    _, rows = parse_table(text)
    return tuple((i, frozenset(term_set(_plain(r[0])))) for i, r in enumerate(rows) if r and r[0])


def _plain(cell: str) -> str:
    cell = strip_bold(cell)
    cell = strip_links(cell)
    cell = re.sub(r"<br\s*/?>", "; ", cell)
    return cell.strip().rstrip(".")


def other_variants(text: str, asked: set[str]) -> set[int]:
    """Rows for a variant the question does not ask about, when a sibling row names the one it does:
    "can an Express workflow wait two days" wants Express's maximum duration, not Standard's, however
    close Standard's notes ("suits human approvals") are to the question. `asked` is the question's
    term set; rows are indexed as in indexed_rows."""
    return {row for row, own, theirs in _variant_pairs(text) if not own & asked and theirs & asked}


@functools.lru_cache(maxsize=4096)
def _variant_pairs(text: str) -> tuple[tuple[int, frozenset[str], frozenset[str]], ...]:
    """(row, words only it has, words only its sibling has) for every ordered pair of rows that share
    an attribute and differ in a variant word or two. A property of the table, not of the question:
    worked out once per table, not once per question that retrieves it."""
    keys = _row_names(text)
    pairs = []
    for i, mine in keys:
        for j, other in keys:
            own, theirs = mine - other, other - mine
            if i != j and 0 < len(own) <= _VARIANT_WORDS and 0 < len(theirs) <= _VARIANT_WORDS \
                    and len(mine & other) > max(len(own), len(theirs)):
                pairs.append((i, own, theirs))
    return tuple(pairs)
