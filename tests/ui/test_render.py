from __future__ import annotations

import re

from bot.answer import Answer, Citation, Template
from ui.render import slack_escape, sources_html, to_html, to_slack_blocks, to_web_markdown

EVIL = ('Cache responses <script>alert(1)</script> and <img src="http://evil.example/x.png" '
        'onerror="alert(2)"> via [hook](javascript:alert(3)) ![t](http://evil.example/t.png) @channel <!here>.')


def _answer(abstained: bool = False) -> Answer:
    citation = Citation(n=1, source="patterns/x.md", title="Caching", section="Caching > Solution",
                        anchor="solution", start_line=3, end_line=9, score=0.03, text=EVIL)
    template = Template(n=2, language="yaml", code="a: <b>\n" + "x: 1\n" * 1200, source="patterns/x.md",
                        section="Caching > Templates")
    code = Citation(**{**citation.model_dump(), "n": 2, "section": "Caching > Templates", "text": template.code})
    return Answer(question="q", answer="- " + EVIL + " [1]" if not abstained else "Not found <script>x</script>",
                  abstained=abstained, citations=[] if abstained else [citation, code],
                  templates=[] if abstained else [template], disclaimer="General <b>note</b>.",
                  points=[] if abstained else [EVIL + " [1]"])


def test_html_and_markdown_render_document_text_inert() -> None:
    answer = _answer()
    for rendered in (to_html(answer, "t1"), sources_html(answer, "t1"), to_web_markdown(answer, "t1")):
        assert "<script" not in rendered and "<img" not in rendered
        assert not re.search(r"<[^>]+\sonerror=", rendered)
        assert not re.search(r'href="(?!#kb-src-)', rendered), "the only links are citation anchors"
    markdown = to_web_markdown(answer, "t1")
    assert "javascript:" not in markdown and "](http://evil" not in markdown, "markdown links become text"
    html_out = to_html(answer, "t1")
    assert '<a class="kb-cite" href="#kb-src-t1-1"' in html_out
    assert "&lt;script&gt;" in html_out and "kb-disclaimer" in html_out


def test_markdown_links_citations_to_the_sources_panel() -> None:
    markdown = to_web_markdown(_answer(), "t1")
    assert "(#kb-src-t1-1)" in markdown and "**Sources**" in markdown
    assert "```yaml\na: <b>" in markdown, "templates stay verbatim inside their fence"
    assert "> General &lt;b&gt;note&lt;/b&gt;." in markdown


def test_slack_blocks_escape_and_truncate() -> None:
    blocks = to_slack_blocks(_answer(), feedback_id="abc")
    text = "\n".join(str(b) for b in blocks)
    assert "<script>" not in text and "<!here>" not in text and "@channel" not in text
    assert "&lt;script&gt;" in text
    template_block = next(b for b in blocks if "```" in b.get("text", {}).get("text", ""))
    assert len(template_block["text"]["text"]) <= 3000 and "Truncated" in template_block["text"]["text"]
    assert blocks[-1]["type"] == "actions" and blocks[-1]["elements"][1]["value"] == "down:abc"
    assert slack_escape("a & b < c") == "a &amp; b &lt; c"


def test_abstention_renders_as_such() -> None:
    answer = _answer(abstained=True)
    assert "Not in the knowledge base" in to_html(answer) and "kb-abstained" in to_html(answer)
    assert to_web_markdown(answer).startswith("**Not in the knowledge base.**")
    assert "&lt;script&gt;" in to_web_markdown(answer)


def test_the_source_name_is_shown_where_the_location_is() -> None:
    named = Citation(n=1, source="guide/a.md", title="Guide", section="Guide > Retries", anchor="retries",
                     start_line=3, end_line=9, score=0.5, text="Retry twice.", source_name="team-docs")
    answer = Answer(question="q", answer="- Retry twice. [1]", abstained=False, citations=[named], disclaimer="d",
                    points=["Retry twice. [1]"])
    assert named.where == "team-docs: guide/a.md:3-9"
    assert "(team-docs: guide/a.md:3-9)" in to_web_markdown(answer, "t")
    assert "(team-docs: guide/a.md:3-9)" in sources_html(answer, "t") and "team-docs: guide/a.md:3-9" in to_html(answer)
    assert "team-docs: guide/a.md:3-9" in str(to_slack_blocks(answer))
    assert Citation(**{**named.model_dump(), "source_name": ""}).where == "guide/a.md:3-9"


def test_sources_highlight_exactly_the_quoted_sentences() -> None:
    text = ("Retries\n\n- Send failures to SQS. Then alarm on its depth.\n- Use **jitter** for every retry.\n"
            "- Use jitter for every retry, said nobody.")
    # The composer records the stored spans its points quote (tests/bot/test_lead.py checks that side).
    first, second = "- Send failures to SQS. Then alarm on its depth.", "- Use **jitter** for every retry."
    quoted = [(text.index(part), text.index(part) + len(part)) for part in (first, second)]
    citation = Citation(n=1, source="patterns/r.md", title="Retries", section="Retries > Solution",
                        anchor="solution", start_line=1, end_line=5, score=0.1, text=text, quoted=quoted)
    points = ["Send failures to SQS. Then alarm on its depth. [1]", "Steps: Use jitter for every retry. [1]"]
    answer = Answer(question="q", answer="", abstained=False, citations=[citation], templates=[],
                    disclaimer="d", points=points)
    marked = re.findall(r"<mark>(.*?)</mark>", sources_html(answer, "t"), re.S)
    assert marked == ["- Send failures to SQS. Then alarm on its depth.", "- Use **jitter** for every retry."]
