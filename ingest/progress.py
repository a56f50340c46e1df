"""Ingest progress for a person watching: a bar with an ETA per stage on a terminal, else a plain
line now and then (a CI log or a redirected stderr gets no control characters and no flood)."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

UNITS = {"reading": "files", "chunking": "documents", "embedding": "chunks", "writing": "chunks"}


def eta_seconds(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the rate so far, or None before there is a rate."""
    if done <= 0 or total <= done or elapsed <= 0:
        return None
    return elapsed / done * (total - done)


class PlainProgress:
    """One line per stage every `every` seconds, plus its last line: 'embedding 1,200/5,000 chunks (24%),
    35 s, about 110 s left'."""

    def __init__(self, console: Console, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.every = every
        self.clock = clock
        self._stage = ""
        self._started = self._shown = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        if stage != self._stage:
            self._stage, self._started, self._shown = stage, now, now
        if total <= 0 or (done < total and now - self._shown < self.every):
            return
        self._shown = now
        self.console.print(self.line(stage, done, total, now - self._started), highlight=False, soft_wrap=True)

    @staticmethod
    def line(stage: str, done: int, total: int, elapsed: float) -> str:
        left = eta_seconds(done, total, elapsed)
        eta = f", about {left:.0f} s left" if left is not None else ""
        return (f"{stage} {done:,}/{total:,} {UNITS.get(stage, 'items')} ({100 * done // max(total, 1)}%), "
                f"{elapsed:.0f} s{eta}")

    def __enter__(self) -> PlainProgress:  # nothing to start or stop: a context only to match BarProgress
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        return None


class BarProgress:
    """A rich bar per stage, with elapsed time and the time remaining; gone when the ingest ends."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("ETA"),
                            TimeRemainingColumn(), console=console, transient=True)
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total, unit=UNITS.get(stage, ""))
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def __enter__(self) -> BarProgress:
        self.bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.bar.stop()


def progress_for(console: Console) -> BarProgress | PlainProgress:
    """The progress for `console`, used as a context (`with progress_for(err) as progress:`)."""
    return BarProgress(console) if console.is_terminal else PlainProgress(console)
