"""A real `kb serve`-like process: SIGTERM drains in-flight answers, a second one exits at once,
kill -9 during feedback writes leaves the database intact; an overloaded API sheds load with 503."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answer import Answer
from bot.chain import load_bot
from evals.bench import free_port
from ingest.pipeline import ingest
from tests.chaos.conftest import Clients, ask, hashing_settings, health, serving, wait_for
from tests.chaos.serve_hashing import SlowAnswerer
from tests.conftest import ROOT
from tests.fakes import HashingEmbedder
from ui.feedback import FeedbackStore

pytestmark = pytest.mark.integration
QUESTION = "How do I keep latency-sensitive functions warm?"


def _server(base: Path, slow: float = 0.0) -> Iterator[tuple[subprocess.Popen[str], str]]:
    settings = hashing_settings(base)
    ingest(settings, HashingEmbedder())
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.chaos.serve_hashing", str(base), str(port), str(slow)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(url) or proc.poll() is not None, 60, "the server starts")
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _up(url: str) -> bool:
    try:
        return health(url)[0] == 200
    except OSError:
        return False


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    yield from _server(tmp_path, slow=1.5)


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    yield from _server(tmp_path)


def _ask_in_background(url: str, results: list[int], timeout: float = 30) -> threading.Thread:
    def run() -> None:
        try:
            results.append(ask(url, QUESTION, timeout=timeout)[0])
        except OSError as exc:
            results.append(0)
            print("request failed:", exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_sigterm_finishes_in_flight_answers_then_stops(slow_server: tuple[subprocess.Popen[str], str],
                                                       tmp_path: Path) -> None:
    proc, url = slow_server
    results: list[int] = []
    threads = [_ask_in_background(url, results) for _ in range(3)]
    time.sleep(0.5)  # all three admitted: two answering, one waiting for a slot
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(OSError):
        ask(url, QUESTION, timeout=2)  # no longer accepting
    for thread in threads:
        thread.join(timeout=20)
    assert results == [200, 200, 200]
    assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    output = proc.stdout.read() if proc.stdout else ""
    assert "stopped" in output, output
    db = sqlite3.connect(tmp_path / "index" / "feedback.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM feedback").fetchone()[0] == 3


def test_a_second_sigterm_exits_at_once(tmp_path: Path) -> None:
    for proc, url in _server(tmp_path, slow=30):
        results: list[int] = []
        _ask_in_background(url, results, timeout=5)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None, "the first SIGTERM waits for the answer in flight"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=3) == 128 + signal.SIGTERM


def test_kill_9_during_feedback_writes_leaves_the_database_intact(
        fast_server: tuple[subprocess.Popen[str], str], tmp_path: Path) -> None:
    proc, url = fast_server
    with Clients(url, 8) as clients:
        wait_for(lambda: sum(clients.statuses.values()) > 40, 30, "answers are being recorded")
        proc.kill()
    path = tmp_path / "index" / "feedback.sqlite3"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM feedback").fetchone()[0] >= 40
    db.close()
    again = FeedbackStore(path)
    assert again.record(Answer(question="q", answer="- a [1]", abstained=False, disclaimer="verify"), "api")
    assert not again.error


def test_an_overloaded_api_sheds_load_with_503_and_retry_after(tmp_path: Path) -> None:
    settings = hashing_settings(tmp_path)
    settings = settings.model_copy(update={"serve": settings.serve.model_copy(update={"concurrency": 2,
                                                                                       "api_waiting": 1})})
    ingest(settings, HashingEmbedder())
    bot = load_bot(settings, HashingEmbedder(), SlowAnswerer(1.0))
    with serving(bot) as url:
        replies: list[tuple[int, dict[str, object]]] = []
        threads = [threading.Thread(target=lambda: replies.append(ask(url, QUESTION))) for _ in range(6)]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=20)
    statuses = sorted(status for status, _ in replies)
    assert statuses == [200, 200, 200, 503, 503, 503], statuses
    assert all("retry in 1 s" in str(body["error"]) for status, body in replies if status == 503)
