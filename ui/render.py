"""The one place that turns an Answer into markdown, HTML or Slack blocks.

Document text is data, never markup: everything from the knowledge base is escaped, links and
images from documents are not rendered, and Slack mentions are defused.
"""

from __future__ import annotations

import html
import re
from typing import Any

from bot.answer import Answer
from bot.compose import fence, md_text
from core.text_units import CITATION, Span

SLACK_TEXT_LIMIT = 3000  # a section block's text
SLACK_CODE_LIMIT = 2800  # leaves room for the fence and the truncation note
# -- markdown ------------------------------------------------------------------------------------
def to_markdown(answer: Answer) -> str:
    return answer.answer


def to_web_markdown(answer: Answer, answer_id: str = "a") -> str:
    """Markdown for the web chat: escaped points with [n] links to the sources panel, fenced templates
    (the chat adds copy buttons), sources, and the disclaimer as a distinct note."""
    note = "\n".join(f"> {md_text(line)}" for line in answer.disclaimer.split("\n"))
    if answer.abstained:
        text = "\n\n".join(md_text(p) for p in answer.answer.split("\n\n") if not p.startswith(">"))
        return f"**Not in the knowledge base.** {text}\n\n{note}"
    link = lambda m: f"[\\[{m.group(1)}\\]](#kb-src-{answer_id}-{m.group(1)})"  # noqa: E731
    parts = [f"_{md_text(answer.coverage_note)}_"] if answer.coverage_note else []
    parts.append("\n".join(f"- {CITATION.sub(link, md_text(p))}" for p in answer.points))
    if answer.templates:
        parts.append("**Templates**")
        for template in answer.templates:
            citation = answer.citations[template.n - 1]
            parts.append(f"[{template.n}] {md_text(citation.label)} ({template.language})\n\n"
                         f"{fence(template.code, template.language)}")
    sources = "\n".join(f"{c.n}. {md_text(c.label)} ({md_text(c.where)})" for c in answer.citations)
    parts += ["**Sources**", sources, note]
    return "\n\n".join(parts)


# -- HTML ----------------------------------------------------------------------------------------
def _inline(text: str) -> str:
    """Escaped text with `code` spans; nothing else from a document becomes markup."""
    parts = re.split(r"(`[^`]+`)", text)
    return "".join(f"<code>{html.escape(p[1:-1])}</code>" if p.startswith("`") and p.endswith("`") and len(p) > 1
                   else html.escape(p) for p in parts)


def _cite_links(text: str, answer_id: str) -> str:
    return CITATION.sub(lambda m: f'<a class="kb-cite" href="#kb-src-{answer_id}-{m.group(1)}" '
                               f'data-cite="{answer_id}-{m.group(1)}">[{m.group(1)}]</a>', text)


def highlight(chunk: str, spans: list[Span]) -> str:
    """The chunk, escaped, with the spans the answer quoted wrapped in <mark>: Citation.quoted, which
    the composer records from the spans ingest stored (an LLM's paraphrase quotes nothing)."""
    parts, cursor = [], 0
    for start, end in sorted(set(spans)):
        if start < cursor:  # overlapping spans cannot be nested marks
            continue
        parts += [html.escape(chunk[cursor:start]), f"<mark>{html.escape(chunk[start:end])}</mark>"]
        cursor = end
    parts.append(html.escape(chunk[cursor:]))
    return "".join(parts)


def to_html(answer: Answer, answer_id: str = "a") -> str:
    """The answer as safe HTML: points with clickable [n], templates, sources and the disclaimer."""
    if answer.abstained:
        body = "".join(f"<p>{_inline(p)}</p>" for p in answer.answer.split("\n\n") if not p.startswith(">"))
        return (f'<div class="kb-answer kb-abstained"><p class="kb-badge">Not in the knowledge base</p>{body}'
                f'{_disclaimer_html(answer)}</div>')
    points = "".join(f"<li>{_cite_links(_inline(p), answer_id)}</li>" for p in answer.points)
    gap = f'<p class="kb-gap">{html.escape(answer.coverage_note)}</p>' if answer.coverage_note else ""
    parts = [f'<div class="kb-answer">{gap}<ul class="kb-points">{points}</ul>']
    if answer.templates:
        parts.append('<h4>Templates</h4>')
        for template in answer.templates:
            citation = answer.citations[template.n - 1]
            parts.append(
                f'<div class="kb-template"><div class="kb-template-head">'
                f'{_cite_links(f"[{template.n}]", answer_id)} {html.escape(citation.label)} '
                f'<span class="kb-lang">{html.escape(template.language)}</span>'
                f'<button class="kb-copy" type="button">Copy</button></div>'
                f'<pre><code class="language-{html.escape(template.language)}">{html.escape(template.code)}'
                f'</code></pre></div>')
    parts.append(sources_html(answer, answer_id))
    parts.append(_disclaimer_html(answer))
    parts.append("</div>")
    return "".join(parts)


def sources_html(answer: Answer, answer_id: str = "a") -> str:
    items = []
    for citation in answer.citations:
        items.append(
            f'<details class="kb-source" id="kb-src-{answer_id}-{citation.n}">'
            f'<summary>{citation.n}. {html.escape(citation.label)} '
            f'<span class="kb-loc">({html.escape(citation.where)})</span></summary>'
            f'<pre class="kb-chunk">{highlight(citation.text, citation.quoted)}</pre></details>')
    return f'<div class="kb-sources"><h4>Sources</h4>{"".join(items)}</div>'


def _disclaimer_html(answer: Answer) -> str:
    lines = "".join(f"<p>{html.escape(line)}</p>" for line in answer.disclaimer.split("\n"))
    return f'<aside class="kb-disclaimer" role="note">{lines}</aside>'


# -- Slack ---------------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """Slack's three control characters, plus mentions that documents must never trigger."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"@(channel|here|everyone)\b", "@\u200b\\1", text)


def to_mrkdwn(text: str) -> str:
    """Markdown emphasis to Slack mrkdwn, after escaping."""
    text = slack_escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    return re.sub(r"(?<![\w*])__(.+?)__(?![\w*])", r"_\1_", text)


def _truncate(code: str, limit: int) -> tuple[str, bool]:
    if len(code) <= limit:
        return code, False
    cut = code[:limit].rsplit("\n", 1)[0]
    return cut, True


def to_slack_blocks(answer: Answer, feedback_id: str = "") -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.abstained:
        text = "\n\n".join(p for p in answer.answer.split("\n\n") if not p.startswith(">"))
        blocks.append(_section(to_mrkdwn(text)))
    else:
        gap = f"_{slack_escape(answer.coverage_note)}_\n" if answer.coverage_note else ""
        blocks.append(_section(gap + "\n".join(f"\u2022 {to_mrkdwn(p)}" for p in answer.points)))
        for template in answer.templates:
            citation = answer.citations[template.n - 1]
            code, cut = _truncate(slack_escape(template.code), SLACK_CODE_LIMIT)
            note = f"\n_Truncated: see {slack_escape(citation.where)} for the full template._" if cut else ""
            header = f"*[{template.n}] {slack_escape(citation.label)}* ({slack_escape(template.language)})"
            blocks.append(_section(f"{header}\n```{code}```{note}"))
        sources = "\n".join(f"{c.n}. {slack_escape(c.label)} ({slack_escape(c.where)})" for c in answer.citations)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sources[:SLACK_TEXT_LIMIT]}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                    "text": slack_escape(answer.disclaimer)[:SLACK_TEXT_LIMIT]}]})
    if feedback_id:
        blocks.append({"type": "actions", "block_id": "kb_feedback", "elements": [
            {"type": "button", "action_id": "kb_vote_up", "text": {"type": "plain_text", "text": "\U0001f44d"},
             "value": f"up:{feedback_id}"},
            {"type": "button", "action_id": "kb_vote_down", "text": {"type": "plain_text", "text": "\U0001f44e"},
             "value": f"down:{feedback_id}"},
        ]})
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_TEXT_LIMIT]}}


def slack_fallback_text(answer: Answer) -> str:
    """Plain text for notifications; Slack shows the blocks."""
    first = answer.points[0] if answer.points else answer.answer.split("\n")[0]
    return slack_escape(first)[:300]


__all__ = ["fence", "highlight", "slack_escape", "sources_html", "to_html", "to_markdown",
           "to_mrkdwn", "to_slack_blocks", "to_web_markdown"]
