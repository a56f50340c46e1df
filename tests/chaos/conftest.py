"""Chaos helpers: a real server in a thread, real ingests in other processes, clients that count failures."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.chain import Bot
from core.settings import Settings
from evals.bench import free_port
from tests.conftest import ROOT, fixture_settings
from ui.feedback import FeedbackStore

QUESTIONS = ["How many times should a failed message be retried before the DLQ?",
             "How do I keep latency-sensitive functions warm?",
             "What does a cold start cost?"]


HASHING: dict[str, Any] = {"embedding_model": "test:hashing", "max_chunk_tokens": 64, "target_chunk_tokens": 48}


def hashing_settings(base: Path, chroma_url: str = "", collection: str = "serverless-kb") -> Settings:
    """The test knowledge base (copied under base) indexed with the hashing embedder."""
    return fixture_settings(base).updated(**HASHING, chroma_url=chroma_url, collection=collection)


def run_ingest(settings: Settings, *flags: str, sources: list[Path] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """An ingest in its own process, as a user's `kb ingest` beside a running server."""
    args = [sys.executable, "-m", "tests.chaos.run_ingest", str(settings.index_dir), settings.chroma_url,
            settings.collection, str(settings.ingest.exclude_rules), *flags,
            *[str(s) for s in (sources or settings.sources)]]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=180)


@contextmanager
def serving(bot: Bot, feedback: FeedbackStore | None = None) -> Iterator[str]:
    import uvicorn

    from ui.server import build_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(bot, feedback), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def ask(url: str, question: str, timeout: float = 10) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Clients:
    """N threads asking in a loop until stopped; every status and error is counted."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.statuses: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(count)]

    def _loop(self, number: int) -> None:
        i = number
        while not self._stop.is_set():
            try:
                status, body = ask(self.url, QUESTIONS[i % len(QUESTIONS)])
            except OSError as exc:
                status, body = 0, {"error": repr(exc)}
            self.statuses[str(status)] += 1
            if status != 200:
                self.failures.append(f"{status}: {body}")
            i += 1

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def wait_for(condition: Any, seconds: float, what: str) -> float:
    """Seconds until condition() held; fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.1)
    return time.monotonic() - started
