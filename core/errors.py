"""Errors a user can act on, and the exit codes the `kb` command ends with.

KBError
 ├── SettingsError        a KB_* variable or a flag has a value that cannot work
 ├── SourceError          a source folder or file cannot be used
 ├── FrontMatterError     a document's front matter is invalid (file and field named)
 ├── RulesError           kb/exclude.yaml is malformed
 ├── IndexError_          the index cannot be opened or written
 │    ├── IndexMismatchError   built with another embedding model or schema
 │    ├── IndexLockedError     another ingest holds the lock
 │    └── DestructiveIngestError  an ingest would drop most of the index (exit 2; --prune allows it)
 ├── DiskFullError        the disk filled up while writing (exit 4; the next run finishes the work)
 ├── ModelError           the embedding model cannot be loaded
 ├── QuestionError        a question is empty or too long
 └── EvalGateError        `kb eval --check` found a failed gate or a significant drop (exit 1)
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """The one exit-code table; README's "Exit codes" paragraph says the same (a test checks)."""

    DONE = 0
    FAILED = 1  # an eval gate failed, some --batch lines were bad, or an unexpected failure
    BAD_INPUT = 2  # a bad flag or KB_* value, a missing folder or index, an unreachable Chroma server, ...
    LOCKED = 3  # another ingest holds the lock
    DISK_FULL = 4  # the index keeps its last version; the next ingest finishes the work
    INTERRUPTED = 130  # Ctrl-C, as a shell reports it


class KBError(Exception):
    """Base class; the CLI prints the message on one line and exits with `exit_code`."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class SettingsError(KBError):
    pass


class SourceError(KBError):
    pass


class FrontMatterError(KBError):
    pass


class RulesError(KBError):
    pass


class VocabularyError(KBError):
    """kb/vocabulary.yaml is missing, not YAML, or has a bad entry."""


class IndexError_(KBError):
    """No index yet, an unreachable Chroma server: the environment, so BAD_INPUT like its subclasses."""


class IndexMismatchError(IndexError_):
    pass


class IndexLockedError(IndexError_):
    exit_code = ExitCode.LOCKED


class DestructiveIngestError(IndexError_):
    pass


class DiskFullError(KBError):
    exit_code = ExitCode.DISK_FULL


class ModelError(KBError):
    pass


class QuestionError(KBError):
    pass


class EvalGateError(KBError):
    exit_code = ExitCode.FAILED


LOW_SPACE_BYTES = 32 * 1024 * 1024


def is_disk_full(exc: BaseException, folder: Path | None = None) -> bool:
    """Whether a failure (from the OS, SQLite or Chroma's own storage) comes down to a full disk.
    Chroma's compaction errors do not say so, hence the look at the free space of `folder`."""
    import errno
    import shutil

    if folder is not None:
        try:
            if shutil.disk_usage(folder).free < LOW_SPACE_BYTES:
                return True
        except OSError:
            pass

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(seen).lower()
        if "no space left" in text or "disk is full" in text or "database or disk is full" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
