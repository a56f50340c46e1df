"""Folders that other processes read while this one writes: filled beside, then renamed into place.

A reader sees either no folder or a complete one, never half of one. Two processes writing the
same folder at once both finish; the second rename fails and its copy is dropped.
"""

from __future__ import annotations

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
        try:
            os.replace(partial, folder)
        except OSError:  # another process finished the same folder first
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
