"""Dense search on a Chroma server (KB_CHROMA_URL): the server's HNSW index finds a question's nearest
chunks, so a serving process does not scan every vector of the corpus on each request.

It searches the collection of the snapshot's own generation and keeps only the chunk ids that
snapshot holds, so a chunk written since (an ingest running now) never reaches an answer half
loaded. Any failure (the server restarting, a `--rebuild` that dropped the generation) returns
None, and the retriever answers from the snapshot's own vectors instead: a request never fails
because of the server. The client is opened on the first search, not when a snapshot loads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from core.settings import Settings
from ingest.embed import Vectors
from ingest.index import IndexHead, chunk_collection_name, open_client

log = logging.getLogger("kb.dense")


class ServerDense:
    def __init__(self, settings: Settings, head: IndexHead, rows: Mapping[str, int]) -> None:
        self.settings = settings
        self.name = chunk_collection_name(settings.collection, head.generation)
        self.rows = rows
        self.searches = 0  # how many the server answered (the tests check it)
        self.error = ""  # the last failure, "" after a success
        self._collection: Any = None
        self._lock = threading.Lock()

    def nearest(self, vector: Vectors, n: int) -> list[tuple[int, float]] | None:
        """The snapshot rows nearest to a normalised vector with their cosine, best first; None when the
        server cannot answer."""
        try:
            got = self._open().query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        except Exception as exc:  # whatever the client raises, the snapshot still answers
            self._failed(exc)
            return None
        self.searches += 1
        self.error = ""
        ids, distances = got["ids"][0], (got["distances"] or [[]])[0]
        # Cosine space: distance is 1 - cosine.
        return [(self.rows[i], 1.0 - float(d)) for i, d in zip(ids, distances, strict=True) if i in self.rows]

    def _open(self) -> Any:
        with self._lock:
            if self._collection is None:
                self._collection = open_client(self.settings).get_collection(self.name, embedding_function=None)
            return self._collection

    def _failed(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if error != self.error:  # once per new problem, not once per request
            log.warning("dense search on the Chroma server failed, searching the snapshot instead: %s", error)
        self.error = error
        with self._lock:
            self._collection = None  # reopen next time: the server may be back
