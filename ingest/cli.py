"""`kb ingest` and `kb stats`, plus what every area's commands share: the embedder and the common
options (Settings are built by core.settings.build_settings). The `kb` app itself is assembled by the
composition root, `app.cli`, which imports each area's `register` statically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from core.settings import Settings, build_settings

err = Console(stderr=True)
out = Console()


def make_embedder(settings: Settings) -> Any:
    """The ONNX encoder (no torch) when the model allows it, else sentence-transformers."""
    # No hub downloads at run time: the model comes from a package or a local path.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from ingest.onnx import OnnxEmbedder, onnx_supported

    if settings.embedding_backend == "onnx" and onnx_supported(settings.embedding_model):
        return OnnxEmbedder(settings.embedding_model, settings.model_cache_dir, settings.ingest.embed_batch_size)
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.embedding_model, settings.ingest.embed_batch_size)


SourceOpt = typer.Option(None, "--source", "-s", metavar="DIR[=NAME]",
                         help="source folder, optionally named (repeatable); default kb/, named after the folder")
IndexOpt = typer.Option(None, "--index", help="index folder; default .kb-index/")
JsonOpt = typer.Option(False, "--json", help="print JSON instead of a table")


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(source: list[str] | None = SourceOpt, index: Path | None = IndexOpt,
               rebuild: bool = typer.Option(False, "--rebuild", help="drop the index and embed everything"),
               explain: bool = typer.Option(False, "--explain", help="list what was excluded and why"),
               prune: bool = typer.Option(False, "--prune", help="allow removing most of the index, or everything "
                                                                 "a source folder gave"),
               dry_run: bool = typer.Option(False, "--dry-run", help="print what would change; write nothing"),
               include: list[str] | None = typer.Option(None, "--include", metavar="GLOB",
                                                        help="read only files matching a glob (repeatable; "
                                                             "gitignore syntax, relative to each source folder)"),
               exclude: list[str] | None = typer.Option(None, "--exclude", metavar="GLOB",
                                                        help="do not read files matching a glob (repeatable)"),
               as_json: bool = JsonOpt) -> None:
        """Load, clean, chunk and embed the knowledge base; only changed documents are re-embedded."""
        from ingest.pipeline import ingest as run_ingest
        from ingest.progress import progress_for
        from ingest.render import print_report

        settings = build_settings(source, index, include=include or None, exclude=exclude or None)
        settings.named_sources()  # two folders under one name: refused before the model loads
        embedder = make_embedder(settings)
        with progress_for(err) as progress:
            report = run_ingest(settings, embedder, rebuild, progress=progress, prune=prune, dry_run=dry_run)
        if as_json:
            hidden = None if explain else {"excluded"}
            print(report.model_dump_json(indent=2, exclude=hidden))
        else:
            print_report(report, explain, out, err)

    @app.command()
    def stats(index: Path | None = IndexOpt, as_json: bool = JsonOpt) -> None:
        """Show documents, chunks by kind and provider, model, index path and size."""
        from core.errors import IndexError_
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
