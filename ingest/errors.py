"""Errors a user can act on.

KBError
 ├── SourceError          a source folder or file cannot be used
 ├── FrontMatterError     a document's front matter is invalid (file and field named)
 ├── RulesError           kb/exclude.yaml is malformed
 ├── IndexError_          the index cannot be opened or written
 │    ├── IndexMismatchError   built with another embedding model or schema
 │    ├── IndexLockedError     another ingest holds the lock
 │    └── DestructiveIngestError  an ingest would drop most of the index (exit 2; --prune allows it)
 ├── ModelError           the embedding model cannot be loaded
 ├── QuestionError        a question is empty or too long
 └── EvalGateError        `kb eval --check` found a failed gate or a significant drop (exit 1)
"""

from __future__ import annotations


class KBError(Exception):
    """Base class; the CLI prints the message on one line and exits with `exit_code`."""

    exit_code = 2


class SourceError(KBError):
    pass


class FrontMatterError(KBError):
    pass


class RulesError(KBError):
    pass


class IndexError_(KBError):
    exit_code = 1


class IndexMismatchError(IndexError_):
    exit_code = 2


class IndexLockedError(IndexError_):
    exit_code = 3


class DestructiveIngestError(IndexError_):
    exit_code = 2


class ModelError(KBError):
    pass


class QuestionError(KBError):
    pass


class EvalGateError(KBError):
    exit_code = 1
