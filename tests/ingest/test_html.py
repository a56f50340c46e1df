"""HTML pages: the main content only, headings kept, converted to markdown the chunker reads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ingest.chunk import Chunker, ChunkLimits
from ingest.html import convert, decode
from ingest.load import load_documents
from ingest.markdown import parse_sections
from ingest.records import Converted, Document, Skipped
from tests.conftest import FIXTURES
from tests.fakes import HashingEmbedder

PAGE = FIXTURES / "html" / "partial-batch.html"
CHROME = ["Skip to content", "Search the handbook", "Handbook home", "FIFO ordering guarantees", "Table of contents",
          "Edit this page", "Copyright", "Next: Cost control", "cookies", "dataLayer", "querySelectorAll",
          "font-family", "\u00b6"]


def _page() -> Converted:
    result = convert(PAGE.read_text(), "partial-batch.html")
    assert isinstance(result, Converted), result
    return result


def test_main_content_keeps_headings_and_drops_the_chrome() -> None:
    page = _page()
    assert [s.section_path for s in parse_sections(page.body) if s.level] == [
        "SQS partial batch responses", "SQS partial batch responses > Why it matters",
        "SQS partial batch responses > Enable it", "SQS partial batch responses > Enable it > In the template",
        "SQS partial batch responses > Enable it > In the handler", "SQS partial batch responses > Limits"]
    assert [c for c in CHROME if c in page.body] == []
    assert page.title == "SQS partial batch responses"
    assert page.summary == "Report only the failed messages of an SQS batch so the rest are deleted."


def test_admonitions_become_labelled_paragraphs_and_tables_stay_tables() -> None:
    body = _page().body
    assert "**Warning: Mind the visibility timeout**\n\nSet the queue's visibility timeout" in body
    assert re.search(r"^\| Maximum batch size \| 10,000 \| 10 \|$", body, re.M)


def test_code_blocks_become_templates_with_their_language(tmp_path: Path) -> None:
    shutil.copy(PAGE, tmp_path / "page.html")
    (doc,) = load_documents([tmp_path], 1_000_000).documents
    assert isinstance(doc, Document) and doc.kind == "other" and doc.pages == ()
    chunks = Chunker(HashingEmbedder().count_tokens, ChunkLimits(256, 200, 3)).chunk(doc, parse_sections(doc.body))
    templates = {c.language: c for c in chunks if c.kind == "template"}
    assert set(templates) == {"yaml", "python"}
    assert templates["yaml"].text.startswith("Events:\n  Queue:\n    Type: SQS\n")
    assert templates["python"].section.endswith("In the handler")
    assert "    return {\"batchItemFailures\": failures}" in templates["python"].text, "indentation kept"
    assert [c.kind for c in chunks].count("table") == 1
    assert all(c.start_page is None for c in chunks)


def test_an_article_inside_main_is_the_content_and_its_own_header_is_kept() -> None:
    page = ("<html><body><main><nav>Docs home</nav><article><header><h1>Retries</h1><p>By the platform team</p>"
            "</header><p>Retry with backoff and jitter.</p><footer>Was this page helpful?</footer></article>"
            "<div class='pager'>Next page</div></main></body></html>")
    result = convert(page, "retries.htm")
    assert isinstance(result, Converted)
    assert result.body.startswith("# Retries\n") and "Retry with backoff and jitter." in result.body
    assert "Docs home" not in result.body and "Next page" not in result.body and "helpful" not in result.body


def test_code_with_backticks_keeps_a_fence_that_closes_after_it() -> None:
    result = convert("<main><h1>T</h1><pre><code class='language-md'>```\ninner\n```</code></pre></main>", "t.html")
    assert isinstance(result, Converted)
    fences = [b for s in parse_sections(result.body) for b in s.blocks if b.kind == "fence"]
    assert [(b.info, b.text) for b in fences] == [("md", "```\ninner\n```")]


def test_a_page_with_only_chrome_is_skipped_as_empty() -> None:
    result = convert("<html><body><nav><a href='/'>Home</a></nav><script>x()</script></body></html>", "nav.html")
    assert isinstance(result, Skipped) and result.reason == "empty" and "navigation" in result.detail


def test_declared_charset_is_honoured_and_binary_is_refused() -> None:
    latin = "<html><head><meta charset='iso-8859-1'></head><body><h1>Caf\u00e9</h1></body></html>".encode("latin-1")
    assert decode(latin, "cafe.html") == latin.decode("latin-1")
    undeclared = decode("<p>caf\u00e9</p>".encode("latin-1"), "cafe.html")
    assert isinstance(undeclared, Skipped) and undeclared.reason == "invalid-encoding"
    png = decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "logo.html")
    assert isinstance(png, Skipped) and png.reason == "binary" and "HTML" in png.detail


def test_deeply_nested_markup_is_skipped_not_a_crash() -> None:
    def nested(depth: int) -> str:
        return "<main><h1>Deep</h1>" + "<div>" * depth + "text" + "</div>" * depth + "</main>"

    ok = convert(nested(100), "fine.html")
    assert isinstance(ok, Converted) and "text" in ok.body
    deep = convert(nested(5_000), "deep.html")
    assert isinstance(deep, Skipped) and (deep.reason, deep.path) == ("unparsable", "deep.html")
    assert "nested too deeply" in deep.detail


def test_a_citation_of_a_page_points_at_its_heading_not_at_converted_lines(tmp_path: Path) -> None:
    """The chunk's lines are those of the markdown the page became; the location a user gets is the
    page with the heading's anchor, which is an id the page itself has."""
    from bot.chain import load_bot
    from ingest.pipeline import ingest
    from tests.chaos.conftest import hashing_settings

    settings = hashing_settings(tmp_path)
    shutil.copy(PAGE, settings.sources[0] / "partial-batch.html")
    ingest(settings, HashingEmbedder())
    answer = load_bot(settings, HashingEmbedder()).ask("How do I enable SQS partial batch responses in the handler?")
    pages = [c for c in answer.citations if c.source == "partial-batch.html"]
    assert pages, [c.source for c in answer.citations]
    ids = set(re.findall(r'<h[1-6] id="([^"]+)"', PAGE.read_text()))
    for citation in pages:
        assert citation.location == f"partial-batch.html#{citation.anchor}" and citation.anchor in ids
    markdown = pages[0].model_copy(update={"source": "partial-batch.md"})
    assert markdown.location == f"partial-batch.md:{markdown.start_line}-{markdown.end_line}", "markdown keeps lines"
