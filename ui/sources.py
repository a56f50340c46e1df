"""The source names an index holds, for the web UI's source filter and for checking `/api/ask` filters."""

from __future__ import annotations

import threading
import weakref
from typing import Any

_lock = threading.Lock()
_last: tuple[weakref.ReferenceType[Any], tuple[str, ...]] | None = None  # the served corpus and its names


def source_names(corpus: Any) -> tuple[str, ...]:
    """Sorted names of the sources a corpus's chunks came from; computed once per corpus (one index
    version is served at a time), since it reads every chunk's metadata."""
    global _last
    if corpus is None:
        return ()
    with _lock:
        if _last is not None and _last[0]() is corpus:
            return _last[1]
        names = tuple(sorted({str(m.get("source_name") or "") for m in corpus.metas} - {""}))
        _last = (weakref.ref(corpus), names)
        return names
