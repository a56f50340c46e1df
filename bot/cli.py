"""`kb ask`: registered on the `kb` app by the composition root, app.cli."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markdown import Markdown

from bot.answer import Answer
from bot.retrieve import Filters
from core.errors import ExitCode, QuestionError


def print_answer(answer: Answer, console: Console) -> None:
    console.print(Markdown(answer.answer))
    timings = answer.timings_ms
    console.print(f"[dim]{answer.mode}, {timings.total:.0f} ms (retrieve {timings.retrieve:.0f}, "
                  f"compose {timings.compose:.0f})[/dim]")


def register(app: typer.Typer) -> None:
    from core.settings import build_settings
    from ingest.cli import IndexOpt, JsonOpt, make_embedder

    @app.command()
    def ask(question: str | None = typer.Argument(None, help="the question, in quotes"),
            index: Path | None = IndexOpt,
            k: int | None = typer.Option(None, "--k", min=1, max=50, help="chunks to retrieve"),
            provider: str | None = typer.Option(None, "--provider", help="aws, gcp, azure, cloudflare, ..."),
            batch: Path | None = typer.Option(None, "--batch", help="a file with one question per line"),
            as_json: bool = JsonOpt) -> None:
        """Answer a question from the knowledge base, with citations, templates and a disclaimer."""
        from bot.chain import load_bot
        from bot.llm import answerer_for

        if (question is None) == (batch is None):
            raise QuestionError("give either a QUESTION or --batch FILE")
        questions = _read_batch(batch) if batch else [(1, question or "")]
        try:
            filters = Filters(provider=provider.lower() if provider else None)
        except ValidationError as exc:
            raise QuestionError(f"--provider: {exc.errors()[0]['msg']}") from None
        settings = build_settings(None, index)
        embedder = make_embedder(settings)
        bot = load_bot(settings, embedder, answerer_for(settings, embedder))

        console = Console()
        failed = 0
        for line, text in questions:
            try:
                if isinstance(text, QuestionError):
                    raise text
                answer = bot.ask(text, k=k, filters=filters)
            except QuestionError as exc:
                if batch is None:
                    raise
                # One bad line is reported in place; the rest of the batch is still answered.
                failed += 1
                where = f"{batch}:{line}"
                if as_json:
                    print(json.dumps({"line": line, "question": text[:200] if isinstance(text, str) else None,
                                      "error": str(exc)}, ensure_ascii=False))
                else:
                    console.print(f"[red]error:[/red] {where}: {exc}", highlight=False)
                continue
            if as_json:
                print(json.dumps(answer.contract(), ensure_ascii=False))
            else:
                print_answer(answer, console)
        if failed:
            raise typer.Exit(ExitCode.FAILED)


def _read_batch(path: Path) -> list[tuple[int, str | QuestionError]]:
    """(line number, question) for each non-blank line; a line that is not UTF-8 becomes its error."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise QuestionError(f"cannot read --batch {path}: {exc.strerror}") from None
    questions: list[tuple[int, str | QuestionError]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            questions.append((number, QuestionError(f"not UTF-8 text (byte {exc.start + 1} of the line)")))
            continue
        if text.strip():
            questions.append((number, text))
    if not questions:
        raise QuestionError(f"--batch {path} has no questions (one per line)")
    return questions
