"""PDFs drawn for the tests with reportlab from tests/fixtures/pdf/whitepaper.txt: with an outline,
without one (headings only by type size), scanned (no text layer), and password-protected."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES

WHITEPAPER = FIXTURES / "pdf" / "whitepaper.txt"
SIZES = {0: 10.0, 1: 20.0, 2: 14.0}  # body, #, ##


def _pages() -> list[list[tuple[int, str]]]:
    pages: list[list[tuple[int, str]]] = [[]]
    for line in WHITEPAPER.read_text().split("\n")[3:]:
        if line == "@page":
            pages.append([])
        else:
            level = len(line) - len(line.lstrip("#")) if line.startswith("#") else 0
            pages[-1].append((level, line.lstrip("# ")))
    return pages


def make_pdf(path: Path, outline: bool = True, sized_headings: bool = True, password: str = "") -> Path:
    """The whitepaper on three A4 pages with a running footer and page numbers; headings in larger
    type (`sized_headings`) and/or as outline entries (`outline`)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=password or None)
    pdf.setTitle("Event-driven serverless whitepaper")
    pdf.setSubject("How to design event-driven serverless systems.")
    for number, lines in enumerate(_pages(), start=1):
        y = height - 72
        for index, (level, text) in enumerate(lines):
            size = SIZES[level if sized_headings else 0]
            if level and outline:
                key = f"h{number}-{index}"
                pdf.bookmarkHorizontal(key, 0, y + size)
                pdf.addOutlineEntry(text, key, level=level - 1)
            pdf.setFont("Helvetica-Bold" if level and sized_headings else "Helvetica", size)
            if text:
                pdf.drawString(72, y, text)
            y -= size * (1.8 if level else 1.4)
        pdf.setFont("Helvetica", 8)
        pdf.drawString(72, 40, "Serverless whitepaper - draft for review")
        pdf.drawString(width - 90, 40, str(number))
        pdf.showPage()
    pdf.save()
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """Pages with only drawn shapes, as a scan without OCR looks to a text extractor."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for page in range(pages):
        for row in range(30):
            pdf.rect(72, 760 - row * 22, 300 + (row * 37 + page * 11) % 150, 9, fill=1, stroke=0)
        pdf.showPage()
    pdf.save()
    return path
