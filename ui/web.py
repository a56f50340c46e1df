"""The Gradio web chat: streamed answers, clickable citations, sources panel, feedback, KB browser."""

from __future__ import annotations

import html
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import gradio as gr

from bot.chain import Bot
from bot.retrieve import Filters
from core.errors import KBError
from core.providers import LABELS, PROVIDERS
from ui.feedback import FeedbackStore
from ui.render import sources_html, to_web_markdown

# The provider filter's choices: "Any", then every provider of the registry by its label.
PROVIDER_CHOICES: dict[str, str | None] = {"Any": None, **{LABELS[p]: p for p in PROVIDERS}}
ANY_SOURCE = "All sources"
CODE_LANGUAGES = {"python", "javascript", "typescript", "yaml", "json", "shell", "markdown", "html", "css", "sql"}
STREAM_DELAY = 0.02  # seconds between streamed blocks: enough to see, too short to wait for

CSS = """
.kb-disclaimer, #kb-chat blockquote { border-left: 4px solid #d97706; background: #fffbeb; color: #78350f;
  padding: 0.4em 0.8em; font-size: 0.9em; }
.kb-source { border: 1px solid #e5e7eb; border-radius: 6px; margin: 0.3em 0; padding: 0.3em 0.6em; }
.kb-source summary { cursor: pointer; font-weight: 600; }
.kb-source .kb-loc { font-weight: 400; color: #6b7280; font-family: monospace; }
.kb-chunk { white-space: pre-wrap; font-size: 0.85em; max-height: 24em; overflow: auto; }
.kb-chunk mark { background: #fde68a; }
.kb-flash { outline: 3px solid #f59e0b; }
"""

# Citation links in the chat open (and scroll to) the matching entry in the sources panel.
HEAD = """<script>
document.addEventListener('click', function (event) {
  var link = event.target.closest && event.target.closest('a[href^="#kb-src-"]');
  if (!link) { return; }
  event.preventDefault(); event.stopPropagation();
  var entry = document.getElementById(link.getAttribute('href').slice(1));
  if (!entry) { return; }
  entry.open = true;
  entry.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  entry.classList.add('kb-flash');
  setTimeout(function () { entry.classList.remove('kb-flash'); }, 1500);
}, true);
</script>"""


def _documents_table(bot: Bot) -> list[list[Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"chunks": 0, "templates": 0})
    for meta in bot.corpus.metas:
        row = rows[str(meta.get("source_name") or ""), meta["source"]]  # one path may be in two sources
        row.update(title=meta["title"], kind=meta["doc_kind"])
        row["chunks"] += 1
        row["templates"] += meta["kind"] == "template"
    return [[r["title"], name, source, r["kind"], r["chunks"], r["templates"]]
            for (name, source), r in sorted(rows.items())]


def _templates(bot: Bot, provider: str, language: str) -> list[tuple[str, str]]:
    corpus = bot.corpus
    wanted = PROVIDER_CHOICES.get(provider)
    found = []
    for row, meta in enumerate(corpus.metas):
        if meta["kind"] != "template" or (wanted and wanted not in (meta.get("providers") or [])):
            continue
        if language not in ("Any", meta["language"]):
            continue
        found.append((f"{meta['section']} ({meta['language']})", corpus.ids[row]))
    return sorted(found)


def build_web(bot: Bot, feedback: FeedbackStore) -> gr.Blocks:
    persona = bot.persona
    examples = list(persona.data.example_questions)
    languages = sorted({m["language"] for m in bot.corpus.metas if m["kind"] == "template"})

    def respond(message: str, chat: list[dict[str, Any]], provider: str, source: str,
                panels: list[str]) -> Iterator[Any]:
        asked = [m["content"] for m in chat if m["role"] == "user" and isinstance(m["content"], str)]
        chat = [*chat, {"role": "user", "content": message},
                {"role": "assistant", "content": "_Searching the knowledge base…_"}]
        yield chat, "", gr.skip(), gr.skip(), panels
        try:
            filters = Filters(provider=PROVIDER_CHOICES.get(provider),
                              source_name=None if source == ANY_SOURCE else source)
            answer = bot.ask(message, history=asked, filters=filters)
        except KBError as exc:
            chat[-1]["content"] = f"**Could not answer:** {exc}"
            yield chat, "", gr.skip(), gr.skip(), panels
            return
        answer_id = uuid.uuid4().hex[:8]
        item_id = feedback.record(answer, "web")
        blocks = to_web_markdown(answer, answer_id).split("\n\n")
        for shown in range(1, len(blocks) + 1):
            chat[-1]["content"] = "\n\n".join(blocks[:shown])
            yield chat, "", gr.skip(), gr.skip(), panels
            time.sleep(STREAM_DELAY)
        panel = "" if answer.abstained else f"<h4>{html.escape(message)}</h4>{sources_html(answer, answer_id)}"
        panels = [panel, *panels][:20]
        yield chat, "", "".join(panels) or "<p>No sources yet.</p>", item_id, panels

    def vote(item_id: str, comment: str, up: bool) -> str:
        if not item_id:
            return "Ask a question first."
        feedback.vote(item_id, "up" if up else "down", comment or "")
        return "Thanks: your feedback was recorded."

    def pick_templates(provider: str, language: str) -> Any:
        choices = _templates(bot, provider, language)
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def show_template(chunk_id: str | None) -> Any:
        # By chunk id, not row: the index may have been reloaded since the list was built.
        corpus = bot.corpus  # one index version for the lookup and the read
        row = corpus.row.get(chunk_id or "")
        if row is None:
            return gr.update(value="", language=None)
        meta = corpus.metas[row]
        language = meta["language"] if meta["language"] in CODE_LANGUAGES else None
        source = f"{meta['source']}:{meta['start_line']}-{meta['end_line']}"
        return gr.update(value=corpus.texts[row], language=language, label=source)

    blocks: gr.Blocks
    with gr.Blocks(title="serverless-kb") as blocks:
        gr.Markdown("## serverless-kb\nAnswers about serverless architecture from a curated knowledge base, "
                    "with cited sources, verbatim templates and disclaimers.")
        with gr.Tab("Ask"), gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    provider = gr.Radio(list(PROVIDER_CHOICES), value="Any", label="Provider", elem_id="kb-provider")
                    names = bot.corpus.source_names
                    source = gr.Dropdown([ANY_SOURCE, *names], value=ANY_SOURCE, label="Source",
                                         elem_id="kb-source-filter")
                chat = gr.Chatbot(elem_id="kb-chat", height=560, label="Answer",
                                  buttons=["copy"])
                question = gr.Textbox(placeholder="Ask a serverless design question…", show_label=False,
                                      elem_id="kb-question", submit_btn=True)
                gr.Examples(examples=examples[:12], inputs=question, label="Example questions")
            with gr.Column(scale=2):
                sources = gr.HTML("<p>No sources yet.</p>", elem_id="kb-sources", label="Sources")
                with gr.Group():
                    comment = gr.Textbox(placeholder="Optional comment", show_label=False, elem_id="kb-comment")
                    with gr.Row():
                        up = gr.Button("\U0001f44d Helpful", elem_id="kb-up")
                        down = gr.Button("\U0001f44e Not helpful", elem_id="kb-down")
                    status = gr.Markdown(elem_id="kb-feedback-status")
        with gr.Tab("Knowledge base"):
            gr.Dataframe(value=_documents_table(bot), interactive=False, label="Documents",
                         headers=["title", "source name", "path", "kind", "chunks", "templates"])
            with gr.Row():
                t_provider = gr.Dropdown(list(PROVIDER_CHOICES), value="Any", label="Provider")
                t_language = gr.Dropdown(["Any", *languages], value="Any", label="Language")
            t_pick = gr.Dropdown(choices=_templates(bot, "Any", "Any"), label="Template")
            t_code = gr.Code(label="Template", interactive=False)
        item = gr.State("")
        panels = gr.State([])
        question.submit(respond, [question, chat, provider, source, panels], [chat, question, sources, item, panels])
        up.click(lambda i, c: vote(i, c, True), [item, comment], status)
        down.click(lambda i, c: vote(i, c, False), [item, comment], status)
        for control in (t_provider, t_language):
            control.change(pick_templates, [t_provider, t_language], t_pick)
        t_pick.change(show_template, t_pick, t_code)
    return blocks

