"""Folders that other processes read while this one writes: filled beside, then renamed into place.

A reader sees either no folder or a complete one, never half of one. A folder already there is
replaced (it is written again only because a reader could not use it: an older format, other term
rules); a process that has its files open keeps reading them until it closes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PARTIAL_AGE = 3600  # seconds after which an unfinished folder is another process's crash, not its work


def write_folder(folder: Path, write: Callable[[Path], None], stale: str = "") -> None:
    """Run `write` on an empty folder beside `folder`, then rename it to `folder`. Siblings matching
    the glob `stale` (older versions) are dropped first, except other processes' writes in progress."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    for old in folder.parent.glob(stale) if stale else []:
        if old != folder and (".partial-" not in old.name or old.stat().st_mtime < time.time() - PARTIAL_AGE):
            shutil.rmtree(old, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.partial-", dir=folder.parent))
    try:
        write(partial)
        _replace(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _replace(partial: Path, folder: Path) -> None:
    """Rename `partial` to `folder`; a folder there (which a rename cannot overwrite) is moved aside
    first and dropped. Keeping it would make every later reader fail on it and write again."""
    try:
        os.replace(partial, folder)
        return
    except OSError:
        if not folder.exists():
            raise
    aside = Path(tempfile.mkdtemp(prefix=f"{folder.name}.old-", dir=folder.parent))
    with contextlib.suppress(FileNotFoundError):  # another process moved it first
        os.replace(folder, aside / folder.name)
    try:
        os.replace(partial, folder)
    except OSError:  # another process put its complete copy there meanwhile: as good as ours
        shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)
