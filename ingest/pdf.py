"""PDF files as the heading-aware markdown the chunker reads, with the page each line came from.

Text comes from pypdf (BSD-3-Clause, pure Python, no system libraries), run by run with the font
size and position of each, so that:

- headings come from the PDF's outline (bookmarks) when it has one: each entry becomes a heading
  at its depth, placed on its page where its destination points (replacing the printed line that
  says the same), and from font-size cues when it has none: short lines set clearly larger than
  the body text are headings, the largest size first;
- paragraphs are separated where the gap between lines is clearly larger than the usual one, and
  words hyphenated across a line break are joined;
- page numbers and running headers or footers (the same line on most pages) are dropped;
- `Converted.pages` records the markdown line where each page starts, so every chunk knows its
  `start_page`/`end_page` and a citation can say "p. 4" or "pp. 4-5" (with an en dash).

A PDF whose pages carry no text (a scan without OCR) is skipped with that reason, as are encrypted
PDFs that need a password and files pypdf cannot parse.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingest.records import Converted, Notice, Skipped

SUFFIXES = (".pdf",)
HEADING_RATIO = 1.15  # a line this much larger than the body text may be a heading
MIN_TEXT_CHARS = 20  # fewer visible characters in the whole file: no text layer
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)
_MARKDOWN_START = re.compile(r"^(#|```|~~~|<|\||=+\s*$|-{3,}\s*$|\*{3,}\s*$|_{3,}\s*$)")


@dataclass(frozen=True)
class Line:
    text: str
    y: float  # baseline, PDF units from the bottom of the page
    size: float  # the font size most of its characters have


@dataclass(frozen=True)
class OutlineEntry:
    title: str
    level: int  # 1 for top-level entries
    page: int  # 0-based page index
    top: float | None  # where on the page the destination points, when it says


def convert(raw: bytes, path: str) -> Converted | Skipped:
    """The PDF's text as markdown, or why it cannot be read."""
    if b"%PDF-" not in raw[:1024]:
        return Skipped(path, "corrupt", "no %PDF- header in the first 1 KB: not a PDF file")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf logs every repaired xref as a warning
    try:
        reader = _open(raw, path)
        if isinstance(reader, Skipped):
            return reader
        pages = [_page_lines(page) for page in reader.pages]
        outline = list(_outline(reader, reader.outline, 1))
        info = reader.metadata or {}
    except Exception as exc:  # pypdf raises many types for damaged files; any of them means unreadable
        return Skipped(path, "corrupt", f"not a readable PDF ({type(exc).__name__}: {_first_line(exc)})")
    visible = sum(len(line.text.strip()) for lines in pages for line in lines)
    if visible < MIN_TEXT_CHARS:
        return Skipped(path, "no-text-layer", f"{len(pages)} page(s) with no text layer (a scanned PDF?); "
                                              "run OCR on it (for example ocrmypdf) and ingest the result")
    pages = _drop_running_lines(pages)
    headed = _with_outline(pages, outline) if outline else _with_font_headings(pages)
    body, starts = _markdown(headed)
    title = str(info.get("/Title") or "").strip() or next(
        (item.text for items in headed for item in items if item.level), "")
    blank = [str(i + 1) for i, lines in enumerate(pages) if not lines]
    notices = (Notice(path, None, f"page(s) {', '.join(blank[:10])} have no text layer; left out"),) if blank else ()
    return Converted(title=title, body=body, summary=str(info.get("/Subject") or "").strip(),
                     pages=tuple(starts), notices=notices)


def _open(raw: bytes, path: str) -> Any:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(raw))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # a missing crypto dependency, or an unknown handler
            return Skipped(path, "encrypted", f"encrypted PDF that cannot be opened ({_first_line(exc)})")
        if not opened:
            return Skipped(path, "encrypted", "password-protected PDF; not read")
    return reader


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _page_lines(page: Any) -> list[Line]:
    """The page's text lines in reading order, with baseline and dominant font size."""
    lines: list[Line] = []
    parts: list[str] = []
    sizes: Counter[float] = Counter()
    y: float | None = None

    def flush() -> None:
        nonlocal parts, sizes, y
        text = " ".join("".join(parts).split())
        if text:
            lines.append(Line(text, y or 0.0, sizes.most_common(1)[0][0] if sizes else 0.0))
        parts, sizes, y = [], Counter(), None

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        nonlocal y
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if piece.strip():
                parts.append(piece)
                scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) or 1.0
                sizes[round(size * scale * 2) / 2] += len(piece.strip())
                if y is None:
                    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            elif piece:
                parts.append(piece)
            if i < len(pieces) - 1:
                flush()

    page.extract_text(visitor_text=visit)
    flush()
    return lines


def _outline(reader: Any, items: list[Any], level: int) -> Iterator[OutlineEntry]:
    for item in items:
        if isinstance(item, list):
            yield from _outline(reader, item, level + 1)
            continue
        page = reader.get_destination_page_number(item)
        title = " ".join(str(item.title or "").split())
        if page is not None and page >= 0 and title:
            top = item.get("/Top")
            yield OutlineEntry(title, min(level, 6), page, float(top) if isinstance(top, int | float) else None)


def _drop_running_lines(pages: list[list[Line]]) -> list[list[Line]]:
    """Without page numbers, and without the headers or footers repeated on most pages (3 or more)."""
    def shape(text: str) -> str:
        return re.sub(r"\d+", "#", text.lower())

    seen = Counter(shape_ for lines in pages for shape_ in {shape(line.text) for line in lines})
    running = {shape_ for shape_, n in seen.items() if len(pages) >= 3 and n >= max(3, len(pages) // 2 + 1)}
    return [[line for line in lines if not _PAGE_NUMBER.match(line.text) and shape(line.text) not in running]
            for lines in pages]


@dataclass(frozen=True)
class Item:
    """A markdown line to be: a heading (level > 0) or a line of text, possibly opening a paragraph."""

    text: str
    level: int = 0
    opens_paragraph: bool = False


def _items(lines: list[Line]) -> list[Item]:
    gaps = [prev.y - line.y for prev, line in itertools.pairwise(lines)]
    # The usual line spacing: between lines of one size (a heading's own spacing is larger).
    same = sorted(g for g, (prev, line) in zip(gaps, itertools.pairwise(lines), strict=True)
                  if g > 0 and prev.size == line.size)
    usual = same[len(same) // 4] if same else 0.0
    breaks = [False, *[usual > 0 and (gap > usual * 1.4 or gap < 0) for gap in gaps]]
    return [Item(line.text, 0, brk) for line, brk in zip(lines, breaks, strict=True)]


def _with_outline(pages: list[list[Line]], outline: list[OutlineEntry]) -> list[list[Item]]:
    """Each outline entry becomes a heading on its page: the printed line that says the same, or a
    new line where its destination points (the top of the page when it does not say)."""
    headed = [_items(lines) for lines in pages]
    for number, lines in enumerate(pages):
        items = headed[number]
        inserts: list[tuple[int, Item]] = []
        for entry in (e for e in outline if e.page == number):
            same = [i for i, item in enumerate(items) if not item.level and _norm(item.text) == _norm(entry.title)]
            if same:
                items[same[0]] = Item(entry.title, entry.level)
                continue
            at = next((i for i, line in enumerate(lines) if entry.top is not None and line.y <= entry.top + 2),
                      0 if entry.top is None else len(lines))
            inserts.append((at, Item(entry.title, entry.level)))
        for at, item in sorted(inserts, key=lambda pair: pair[0], reverse=True):
            items.insert(at, item)
    return headed


def _with_font_headings(pages: list[list[Line]]) -> list[list[Item]]:
    """Short lines set clearly larger than the body text are headings; the largest size is level 1."""
    chars: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            chars[line.size] += len(line.text)
    body = chars.most_common(1)[0][0] if chars else 0.0
    sizes = sorted({line.size for lines in pages for line in lines if _heading_like(line, body)}, reverse=True)
    levels = {size: min(i + 1, 3) for i, size in enumerate(sizes)}
    headed = []
    for lines in pages:
        items = _items(lines)
        headed.append([Item(line.text, levels[line.size]) if _heading_like(line, body) else item
                       for line, item in zip(lines, items, strict=True)])
    return headed


def _heading_like(line: Line, body: float) -> bool:
    return (body > 0 and line.size >= body * HEADING_RATIO and len(line.text) <= 120
            and len(line.text.split()) <= 14 and not line.text.endswith((".", ",", ";", ":")))


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def _markdown(headed: list[list[Item]]) -> tuple[str, list[int]]:
    """Markdown for every page, and the line (1-based) where each page starts. A page starts a new
    paragraph, so no chunk line straddles two pages."""
    out: list[str] = []
    starts: list[int] = []
    for items in headed:
        if out and out[-1]:
            out.append("")
        starts.append(len(out) + 1)
        for item in _joined(items):
            if item.level:
                if out and out[-1]:
                    out.append("")
                out.extend([f"{'#' * item.level} {item.text}", ""])
            else:
                if item.opens_paragraph and out and out[-1]:
                    out.append("")
                out.append(_escaped(item.text))
    return "\n".join(out).rstrip("\n") + "\n", starts


def _joined(items: list[Item]) -> list[Item]:
    """Words hyphenated across a line break joined onto the first line."""
    out: list[Item] = []
    for item in items:
        previous = out[-1] if out else None
        if (previous and not item.level and not previous.level and not item.opens_paragraph
                and re.search(r"[a-z]-$", previous.text) and item.text[:1].islower()):
            word, _, rest = item.text.partition(" ")
            out[-1] = Item(previous.text[:-1] + word, 0, previous.opens_paragraph)
            if rest:
                out.append(Item(rest))
            continue
        out.append(item)
    return out


def _escaped(text: str) -> str:
    """A line of PDF text that no markdown parser reads as structure (heading, fence, HTML, table, rule)."""
    if text.startswith(("•", "▪", "◦", "●")):
        return "- " + text[1:].strip()
    return "\\" + text if _MARKDOWN_START.match(text) else text
