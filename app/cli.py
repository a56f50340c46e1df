"""The composition root: the `kb` command, assembled from each area's commands.

Every area (ingest, bot, ui, evals) exposes `register(app)`; this module, at the top of the
layers, imports them all statically, so a broken install fails loudly instead of silently losing
a command, and no lower layer ever names a higher one.
"""

from __future__ import annotations

import os
import sys

import typer

import bot.cli
import evals.cli
import ingest.cli
import ui.cli
from core.errors import ExitCode, KBError, is_disk_full
from ingest.cli import err

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="serverless-kb: answers serverless architecture questions from a curated knowledge base.")
for area in (ingest.cli, bot.cli, ui.cli, evals.cli):
    area.register(app)


def main() -> None:
    """Run the CLI; every error a user can cause is one line and an exit code (KB_DEBUG=1: the traceback).

    Exit codes: core.errors.ExitCode. This is the composition root, so it alone reads KB_DEBUG from the
    environment.
    """
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
        sys.exit(int(code))


def _one_line(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, KBError):
        return str(exc), exc.exit_code
    if isinstance(exc, typer.Abort):
        return "interrupted", ExitCode.INTERRUPTED
    if isinstance(exc, typer.TyperException):  # usage errors: bad option, bad value, missing argument
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "kb"
        detail = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return (f"{detail} (see `{command} --help`)" if detail else ""), ExitCode.BAD_INPUT
    if is_disk_full(exc):
        return ("the disk is full; free some space and run the command again (the index is left consistent)",
                ExitCode.DISK_FULL)
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where}: {exc.strerror or exc}", ExitCode.BAD_INPUT
    return f"unexpected {type(exc).__name__}: {exc} (run with KB_DEBUG=1 for the traceback)", ExitCode.FAILED
