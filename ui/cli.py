"""`kb serve` and `kb feedback export`, registered on the `kb` app by the composition root, app.cli."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
import yaml


def candidate_cases(items: list[Any]) -> list[dict[str, Any]]:
    """Thumbs-down answers as eval cases in the golden.yaml format, to review before appending."""
    cases = []
    for item in items:
        answer = json.loads(item.answer_json)
        expected = [{"source": c["source"], "section": c["section"].split(" > ")[-1], "relevance": 1}
                    for c in answer.get("citations", [])[:3]]
        case: dict[str, Any] = {
            "id": f"feedback-{item.id[:12]}",
            "kind": "out_of_scope" if answer.get("abstained") else "in_scope",
            "question": item.question,
            "provider": "any",
        }
        if not answer.get("abstained"):
            # The cited sources were judged wrong or incomplete: a reviewer fixes them and adds facts.
            case["expected"] = expected
            case["must_include"] = []
        case["review_note"] = f"thumbs down via {item.channel}: {item.comment or 'no comment'}"
        cases.append(case)
    return cases


def register(app: typer.Typer) -> None:
    from core.settings import build_settings
    from ingest.cli import IndexOpt, make_embedder

    feedback_app = typer.Typer(help="Feedback from the web UI, API and Slack.", no_args_is_help=True)
    app.add_typer(feedback_app, name="feedback")

    @app.command()
    def serve(index: Path | None = IndexOpt,
              host: str | None = typer.Option(None, "--host", help="bind address (KB_HOST; default 127.0.0.1)"),
              port: int | None = typer.Option(None, "--port", help="port (KB_PORT; default 7860)")) -> None:
        """Serve the web chat at /, the JSON API at /api and the Slack bot at /slack/events."""
        from bot.chain import load_bot
        from bot.llm import answerer_for
        from ui.server import serve as run_server

        settings = build_settings(None, index, host=host, port=port)
        embedder = make_embedder(settings)
        run_server(load_bot(settings, embedder, answerer_for(settings, embedder)))

    @feedback_app.command("export")
    def export(index: Path | None = IndexOpt,
               negative: bool = typer.Option(False, "--negative", help="only thumbs-down answers"),
               output: Path | None = typer.Option(None, "--output", "-o", help="YAML file; default stdout")) -> None:
        """Write feedback as candidate eval cases (evals/golden.yaml format) for review."""
        from ui.feedback import FeedbackStore

        settings = build_settings(None, index)
        store = FeedbackStore(settings.feedback_db)
        items = store.items("down" if negative else None)
        text = ("# Candidate eval cases from feedback: review each, fill in must_include, fix expected,\n"
                "# drop review_note, then append to evals/golden.yaml.\n"
                + yaml.safe_dump({"cases": candidate_cases(items)}, sort_keys=False, allow_unicode=True))
        if output:
            output.write_text(text, encoding="utf-8")
            print(f"wrote {len(items)} candidate cases to {output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
