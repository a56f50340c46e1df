"""The `kb` command. Entry points stay thin: build Settings once, call the pipeline, print.

Downstream packages (bot, ui, evals) add their commands through `register(app)` hooks, so this
module never imports them statically and data keeps flowing one way.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.errors import KBError
from ingest.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="serverless-kb: answers serverless architecture questions from a curated knowledge base.")
err = Console(stderr=True)
out = Console()
PLUGINS = ("bot.cli", "ui.cli", "evals.cli")


def build_settings(source: list[Path] | None = None, index: Path | None = None, **extra: Any) -> Settings:
    """Settings from the environment, with command-line flags taking precedence."""
    settings = Settings()
    update: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if source:
        update["sources"] = source
    if index is not None:
        update["index_dir"] = index
    return settings.model_copy(update=update)


def make_embedder(settings: Settings) -> Any:
    from ingest.embed import SentenceTransformerEmbedder

    # No hub downloads at run time: the model comes from a package or a local path.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return SentenceTransformerEmbedder(settings.embedding_model, settings.embed_batch_size)


SourceOpt = typer.Option(None, "--source", "-s", help="source folder (repeatable); default kb/")
IndexOpt = typer.Option(None, "--index", help="index folder; default .kb-index/")
JsonOpt = typer.Option(False, "--json", help="print JSON instead of a table")


@app.command()
def ingest(source: list[Path] | None = SourceOpt, index: Path | None = IndexOpt,
           rebuild: bool = typer.Option(False, "--rebuild", help="drop the index and embed everything"),
           explain: bool = typer.Option(False, "--explain", help="list what was excluded and why"),
           prune: bool = typer.Option(False, "--prune", help="allow removing most of the index, or everything "
                                                             "a source folder gave"),
           dry_run: bool = typer.Option(False, "--dry-run", help="print what would change; write nothing"),
           as_json: bool = JsonOpt) -> None:
    """Load, clean, chunk and embed the knowledge base; only changed documents are re-embedded."""
    from ingest.pipeline import ingest as run_ingest
    from ingest.render import print_report

    settings = build_settings(source, index)
    embedder = make_embedder(settings)
    with Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("embed", total=None)
        report = run_ingest(settings, embedder, rebuild,
                            progress=lambda done, total: bar.update(task, completed=done, total=total),
                            prune=prune, dry_run=dry_run)
    if as_json:
        exclude = None if explain else {"excluded"}
        print(report.model_dump_json(indent=2, exclude=exclude))
    else:
        print_report(report, explain, out, err)


@app.command()
def stats(index: Path | None = IndexOpt, as_json: bool = JsonOpt) -> None:
    """Show documents, chunks by kind and provider, model, index path and size."""
    from ingest.errors import IndexError_
    from ingest.index import IndexStore
    from ingest.render import print_stats
    from ingest.stats import collect_stats

    settings = build_settings(None, index)
    store = IndexStore.open(settings, settings.embedding_model)
    if not store.exists():
        where = settings.chroma_url or settings.index_dir
        raise IndexError_(f"there is no index {settings.collection!r} at {where} yet; run `kb ingest` first")
    result = collect_stats(settings, store)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_stats(result, out)


def _register_plugins() -> None:
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)


def main() -> None:
    _register_plugins()
    try:
        app(standalone_mode=False)
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Exit, SystemExit) as exc:
        sys.exit(getattr(exc, "exit_code", None) or getattr(exc, "code", 0))
    except Exception as exc:  # click usage errors and friends
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise


