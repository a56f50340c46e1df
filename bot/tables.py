"""Markdown table rows as quotable evidence: each row read out with its column headers.

A limit or a default often lives in one table row. "| Timeout | 1 to 900 seconds |" under the
heading "Key limits" becomes "Timeout: 1 to 900 seconds (Key limits)": the row's own cells, in
order, labelled by the header, so the point says exactly what the table says.
"""

from __future__ import annotations

import re

_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and body rows of a pipe table (empty when the text is not one)."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) < 3 or not _RULE.match(lines[1]):
        return [], []
    header = _cells(lines[0])
    rows = [_cells(ln) for ln in lines[2:] if "|" in ln]
    return header, [r for r in rows if any(c for c in r)]


def row_sentences(text: str, heading: str) -> list[str]:
    """Every body row as one sentence: first cell, then each other cell labelled by its header."""
    header, rows = parse_table(text)
    out = []
    for row in rows:
        cells = [_plain(c) for c in row]
        if not cells or not cells[0]:
            continue
        rest = [(h, c) for h, c in zip(header[1:], cells[1:], strict=False) if c]
        if not rest:
            continue
        body = rest[0][1] if len(rest) == 1 else "; ".join(f"{_plain(h)} {c}" if h else c for h, c in rest)
        suffix = f" ({heading})" if heading else ""
        out.append(f"{cells[0]}: {body}{suffix}.")
    return out


def _plain(cell: str) -> str:
    cell = re.sub(r"(\*\*|__)(.+?)\1", r"\2", cell)
    cell = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", cell)
    cell = re.sub(r"<br\s*/?>", "; ", cell)
    return cell.strip().rstrip(".")
