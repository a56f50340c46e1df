"""Load shedding for the answer routes: a few answers at once, a short line, and 503 beyond it.

Answers are CPU-bound, so more at once only makes each slower. A request beyond `running +
waiting`, or one that has waited `max_wait` seconds, gets 503 with Retry-After at once: a
client learns to come back instead of timing out, and the server never builds a backlog of
answers nobody is waiting for. A request whose client went away while it waited is dropped
before its answer is computed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Overloaded(Exception):
    """No slot within the limits; the caller answers 503 with Retry-After."""

    retry_after = 1


class Admission:
    def __init__(self, running: int, waiting: int, max_wait: float) -> None:
        self.running = running
        self.waiting = waiting
        self.max_wait = max_wait
        self._slots = asyncio.Semaphore(running)
        self._admitted = 0  # running + waiting; the event loop is one thread, so a plain int is safe

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._admitted >= self.running + self.waiting:
            raise Overloaded(f"{self.running} answers running and {self.waiting} waiting")
        self._admitted += 1
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.max_wait)
            except TimeoutError:
                raise Overloaded(f"no answer slot within {self.max_wait:g} s") from None
            try:
                yield
            finally:
                self._slots.release()
        finally:
            self._admitted -= 1
