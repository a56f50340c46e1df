"""Markdown table rows as quotable evidence: each row read out with its column headers.

A limit or a default often lives in one table row. "| Timeout | 1 to 900 seconds |" under the
heading "Key limits" becomes "Timeout: 1 to 900 seconds (Key limits)": the row's own cells, in
order, labelled by the header, so the point says exactly what the table says.
"""

from __future__ import annotations

import re

from core.text_units import strip_bold, strip_links
from ingest.tables import parse_table


def row_sentences(text: str, heading: str) -> list[str]:
    """Every body row as one sentence: first cell, then each other cell labelled by its header."""
    return [sentence for _, sentence in indexed_rows(text, heading)]


def indexed_rows(text: str, heading: str) -> list[tuple[int, str]]:
    """(row index, sentence) for every body row that reads as one; the index matches row_spans."""
    header, rows = parse_table(text)
    out = []
    for index, row in enumerate(rows):
        cells = [_plain(c) for c in row]
        if not cells or not cells[0]:
            continue
        rest = [(h, c) for h, c in zip(header[1:], cells[1:], strict=False) if c]
        if not rest:
            continue
        body = rest[0][1] if len(rest) == 1 else "; ".join(f"{_plain(h)} {c}" if h else c for h, c in rest)
        suffix = f" ({heading})" if heading else ""
        out.append((index, f"{cells[0]}: {body}{suffix}."))
    return out


def _plain(cell: str) -> str:
    cell = strip_bold(cell)
    cell = strip_links(cell)
    cell = re.sub(r"<br\s*/?>", "; ", cell)
    return cell.strip().rstrip(".")
