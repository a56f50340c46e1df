"""Terminal output for ingest and stats."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ingest.pipeline import IngestReport
from ingest.stats import IndexStats


def print_report(report: IngestReport, explain: bool, out: Console, err: Console) -> None:
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    for skipped in report.skipped:
        err.print(f"[yellow]skipped:[/yellow] {skipped.path} ({skipped.reason}): {skipped.detail}",
                  highlight=False, soft_wrap=True)
    if explain:
        _print_skipped(report, out)
        if report.left_out:
            out.print(f"left out (not read): {sum(report.left_out.values())} files", highlight=False)
            for reason, count in sorted(report.left_out.items(), key=lambda item: -item[1]):
                out.print(f"  {count:5}  {reason}", highlight=False)
        out.print(f"excluded (not knowledge): {len(report.excluded)} spans", highlight=False)
        for span in report.excluded:
            heading = span.section.split(" > ")[-1] or "(paragraph)"
            out.print(f"  {span.source}:{span.lines}  [{span.rule}]  {heading} - {span.reason}",
                      highlight=False, soft_wrap=True)
        if not report.excluded:
            out.print("  only changed documents are examined; use --rebuild to examine all", highlight=False)
    if report.dry_run:
        out.print("dry run: nothing was written", highlight=False)
        for source in report.changed:
            out.print(f"  would embed {source}", highlight=False)
        for source in report.removed:
            out.print(f"  would remove {source}", highlight=False)
    out.print(
        f"documents: {report.documents_seen} seen, {report.documents_changed} changed, "
        f"{report.documents_unchanged} unchanged, {report.documents_removed} removed, "
        f"{report.documents_skipped} skipped\n"
        f"chunks: {report.chunks_added} added, {report.chunks_deleted} deleted, "
        f"{report.chunks_unchanged} unchanged; templates added: {report.templates_added}\n"
        f"time: {report.seconds:.2f} s (embedding {report.embed_seconds:.2f} s)"
        + (f"; index version {report.index_version}" if report.index_version else ""), highlight=False)


def _print_skipped(report: IngestReport, out: Console) -> None:
    """Files that were read but could not be ingested, grouped by reason, each with what was wrong."""
    if not report.skipped:
        return
    out.print(f"skipped (not ingested): {len(report.skipped)} files", highlight=False)
    groups: dict[str, list[str]] = {}
    for skipped in report.skipped:
        groups.setdefault(skipped.reason, []).append(f"{skipped.path}: {skipped.detail}")
    for reason, lines in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        out.print(f"  {len(lines):5}  {reason}", highlight=False)
        for line in lines:
            out.print(f"           {line}", highlight=False, soft_wrap=True)


def print_stats(stats: IndexStats, out: Console) -> None:
    out.print(f"index: {stats.index} ({stats.size_bytes / 1e6:.1f} MB), collection {stats.collection}\n"
              f"model: {stats.embedding_model or '-'} ({stats.dimension} dims)", highlight=False)
    table = Table("what", "count")
    table.add_row("documents", str(stats.documents))
    for kind, n in sorted(stats.documents_by_kind.items()):
        table.add_row(f"  {kind} documents", str(n))
    table.add_row("chunks", str(stats.chunks))
    for kind, n in sorted(stats.chunks_by_kind.items()):
        table.add_row(f"  {kind} chunks", str(n))
    for provider, n in sorted(stats.chunks_by_provider.items()):
        table.add_row(f"  mentions {provider}", str(n))
    for language, n in sorted(stats.templates_by_language.items()):
        table.add_row(f"  {language} templates", str(n))
    for category, n in stats.categories.items():
        table.add_row(f"  category {category}", str(n))
    out.print(table)
    by_source = Table("source", "format", "documents", "chunks")
    for name, source in stats.sources.items():
        by_source.add_row(name or "(unnamed)", "all", str(source.documents), str(source.chunks))
        for kind, count in source.formats.items():
            by_source.add_row("", kind, str(count.documents), str(count.chunks))
    if stats.sources:
        out.print(by_source)
