"""What the bot answers from: one index version held in memory, replaced whole when the index changes.

A request takes the current snapshot once and uses only it, so it never sees half of the old
index and half of the new one. A snapshot needs no database at query time (dense search can run
over its own vectors), so nothing a writer does to Chroma, in this process or another, can fail
a request: an incremental ingest, a `--rebuild` that drops the old collections, a restarted
Chroma server. With a Chroma server, dense search asks the server first (`bot.server_dense`) and
keeps only this snapshot's chunks; the snapshot's own vectors answer when the server cannot.

The watcher follows the head protocol described in `ingest.index`: it reads the head every
`reload_seconds`; when the version moved and the state is "ready" it loads a new snapshot in its
own thread, reads the head again, and swaps only if nothing was written meanwhile. Requests keep
the old snapshot until the swap, which is one attribute assignment. Each poll opens and closes
its own client, because an embedded Chroma client caches segments and would not see another
process's writes.

A loaded version is saved as memory-mapped files under the index folder's cache, named by the head
collection's id and the version. With a Chroma server the key comes from the server, so several
`kb serve` replicas that share an index folder pull the corpus from the server once per version
(the first to load it saves it) and map the same files, which the OS page cache holds once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.compose import Composer
from bot.corpus import Corpus, load_corpus
from bot.persona import Persona
from bot.retrieve import HybridRetriever
from bot.saved import SNAPSHOT_FORMAT, load_saved_corpus, save_corpus
from bot.server_dense import ServerDense
from core.settings import Settings
from ingest.embed import Embedder
from ingest.index import IndexHead, IndexStore, peek_head

log = logging.getLogger("kb.snapshot")


@dataclass(frozen=True)
class Snapshot:
    head: IndexHead
    corpus: Corpus
    retriever: HybridRetriever
    composer: Composer
    loaded_at: float

    @property
    def version(self) -> int:
        return self.head.version


def read_head(settings: Settings, embedder: Embedder) -> IndexHead:
    peeked = peek_head(settings)
    if peeked is not None:  # the embedded index: straight from its SQLite file, no client to open
        return peeked[1]
    store = IndexStore.open(settings, embedder.name)
    try:
        return store.head()
    finally:
        store.close()


def load_snapshot(settings: Settings, embedder: Embedder, persona: Persona) -> Snapshot:
    """The published index version, from the local snapshot files when they are this version's
    (no Chroma at all: a one-shot `kb ask` never imports it), else from Chroma, saving those files."""
    peeked = peek_head(settings)
    if peeked is not None and peeked[1].ready:
        corpus = load_saved_corpus(_saved(settings, peeked[0]), embedder.name, settings.cache_dir)
        if corpus is not None:
            return _snapshot(peeked[1], corpus, settings, embedder, persona)
    store = IndexStore.open(settings, embedder.name)
    try:
        keyed = store.head_key()
        head = keyed[1] if keyed is not None else IndexHead()
        if settings.chroma_url and keyed is not None and head.ready:  # another replica may have saved it already
            corpus = load_saved_corpus(_saved(settings, keyed[0]), embedder.name, settings.cache_dir)
            if corpus is not None:
                return _snapshot(head, corpus, settings, embedder, persona)
        store.check_model()
        corpus = load_corpus(store, settings.cache_dir)
        after = store.head_key() if settings.chroma_url else peek_head(settings)
    finally:
        store.close()
    if after is not None and after[1] == head and head.ready:  # nothing was written while loading
        try:
            save_corpus(corpus, _saved(settings, after[0]), embedder.name)
        except OSError as exc:  # a full or read-only disk costs speed next time, never this answer
            log.warning("cannot save the index snapshot in %s: %s", settings.cache_dir, exc)
        else:  # serve from the mapped files: the copies read from Chroma are freed
            corpus = load_saved_corpus(_saved(settings, after[0]), embedder.name, settings.cache_dir) or corpus
    return _snapshot(head, corpus, settings, embedder, persona)


def _saved(settings: Settings, key: str) -> Path:
    return settings.cache_dir / f"snapshot-{key}-f{SNAPSHOT_FORMAT}"


def _snapshot(head: IndexHead, corpus: Corpus, settings: Settings, embedder: Embedder, persona: Persona) -> Snapshot:
    server = ServerDense(settings, head, corpus.row) if settings.chroma_url and settings.retrieve.server_dense else None
    retriever = HybridRetriever(corpus, embedder, settings.retrieve, server)
    return Snapshot(head, corpus, retriever, Composer(corpus, persona, settings.answer), time.time())


class Watcher:
    """Keeps a bot on the newest published index version, from a daemon thread."""

    def __init__(self, settings: Settings, embedder: Embedder, persona: Persona,
                 current: Callable[[], Snapshot | None], swap: Callable[[Snapshot], None]) -> None:
        self.settings = settings
        self.embedder = embedder
        self.persona = persona
        self.current = current
        self.swap = swap
        self.error = ""  # why the index could not be read at the last poll ("" when it could)
        self.head: IndexHead | None = None  # the head seen at the last poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> bool:
        """One look at the head; True when a new snapshot was swapped in."""
        try:
            swapped = self._poll()
        except Exception as exc:  # any failure to read keeps the snapshot being served
            error = f"{type(exc).__name__}: {exc}"
            if error != self.error:  # once per new problem, not once a second
                log.warning("cannot read the index for reloading (still serving version %s): %s",
                            getattr(self.current(), "version", None), error)
            self.error = error
            return False
        if self.error:
            log.warning("the index can be read again")
        self.error = ""
        return swapped

    def _poll(self) -> bool:
        self.head = head = read_head(self.settings, self.embedder)
        served = self.current()
        if not head.ready or (served is not None and served.head == head):
            return False
        snapshot = load_snapshot(self.settings, self.embedder, self.persona)
        after = read_head(self.settings, self.embedder)
        if snapshot.head != head or after != head:
            return False  # written meanwhile: try again at the next poll
        self.swap(snapshot)
        log.warning("serving index version %s (%d chunks)", head.version, len(snapshot.corpus))
        return True

    def start(self, interval: float) -> Watcher:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.poll()

        self._thread = threading.Thread(target=loop, name="kb-index-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
