"""Feedback keeps the newest rows and never costs an answer when it cannot be written."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.answer import Answer
from bot.chain import Bot
from ui.api import api_router
from ui.feedback import FeedbackStore


def _answer(question: str) -> Answer:
    return Answer(question=question, answer="- a point [1]", abstained=False, disclaimer="verify")


def test_only_the_newest_rows_are_kept(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3", max_rows=3)
    ids = [store.record(_answer(f"q{i}"), "api") for i in range(5)]
    assert [item.question for item in store.items()] == ["q2", "q3", "q4"]
    assert store.vote(ids[-1], "up") and not store.vote(ids[0], "up")


def _full(store: FeedbackStore) -> None:
    """SQLite's own 'database or disk is full', as on a full disk, without needing one."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    while store.record(_answer("filler " * 100), "api"):  # use up the free space left in those pages
        pass


def test_a_full_database_records_nothing_and_says_why(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    _full(store)
    assert store.record(_answer("x" * 20_000), "web") == ""
    assert "full" in store.error


def test_an_unopenable_store_still_takes_votes_in_memory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    store = FeedbackStore(tmp_path / "file" / "f.sqlite3")
    assert "cannot open" in store.error
    assert store.vote(store.record(_answer("q"), "web"), "down")


def test_the_api_answers_when_feedback_cannot_be_written(fixture_bot: Bot, tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    _full(store)
    app = FastAPI()
    app.include_router(api_router(fixture_bot, store))
    response = TestClient(app).post("/api/ask", json={"question": "How do I keep latency-sensitive functions warm?"})
    assert response.status_code == 200 and response.json()["citations"], response.text
    assert response.json()["id"] == "" and "full" in store.error
