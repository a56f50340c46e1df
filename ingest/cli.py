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
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.errors import KBError, SettingsError, is_disk_full
from ingest.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="serverless-kb: answers serverless architecture questions from a curated knowledge base.")
err = Console(stderr=True)
out = Console()
PLUGINS = ("bot.cli", "ui.cli", "evals.cli")


def build_settings(source: list[Path] | None = None, index: Path | None = None, **extra: Any) -> Settings:
    """Settings from the environment, with command-line flags taking precedence."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = "KB_" + "__".join(str(p) for p in first["loc"]).upper()
        raise SettingsError(f"{variable}={first.get('input')!r}: {first['msg']}; fix or unset it") from None
    update: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if source:
        update["sources"] = source
    if index is not None:
        update["index_dir"] = index
    settings = settings.model_copy(update=update)
    if settings.index_dir.exists() and not settings.index_dir.is_dir():
        raise SettingsError(f"--index {settings.index_dir} is a file; give the index folder (created if missing)")
    return settings


def make_embedder(settings: Settings) -> Any:
    """The ONNX encoder (no torch) when the model allows it, else sentence-transformers."""
    # No hub downloads at run time: the model comes from a package or a local path.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from ingest.onnx import OnnxEmbedder, onnx_supported

    if settings.embedding_backend == "onnx" and onnx_supported(settings.embedding_model):
        return OnnxEmbedder(settings.embedding_model, settings.model_cache_dir, settings.embed_batch_size)
    from ingest.embed import SentenceTransformerEmbedder

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
    """Run the CLI; every error a user can cause is one line and an exit code (KB_DEBUG=1: the traceback).

    Exit codes: 1 unexpected failure, 2 usage or environment error, 3 index locked, 4 disk full,
    130 interrupted. This is the composition root, so it alone reads KB_DEBUG from the environment.
    """
    _register_plugins()
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
        sys.exit(code if isinstance(code, int) else 0)
    except (typer.Exit, SystemExit) as exc:
        sys.exit(getattr(exc, "exit_code", None) or getattr(exc, "code", 0))
    except Exception as exc:
        if os.environ.get("KB_DEBUG"):
            raise
        message, code = _one_line(exc)
        if message:  # `kb` alone has printed its help already
            err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(code)


def _one_line(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, KBError):
        return str(exc), exc.exit_code
    if isinstance(exc, typer.Abort):
        return "interrupted", 130
    if isinstance(exc, typer.TyperException):  # usage errors: bad option, bad value, missing argument
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "kb"
        detail = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return (f"{detail} (see `{command} --help`)" if detail else ""), 2
    if is_disk_full(exc):
        return "the disk is full; free some space and run the command again (the index is left consistent)", 4
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where}: {exc.strerror or exc}", 2
    return f"unexpected {type(exc).__name__}: {exc} (run with KB_DEBUG=1 for the traceback)", 1
