"""Thumbs up/down with an optional comment, in a SQLite file in the index folder."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.answer import Answer

Channel = Literal["web", "slack", "api"]
Vote = Literal["up", "down"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    vote TEXT CHECK (vote IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    voted_at REAL,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'slack', 'api'))
)
"""


@dataclass(frozen=True)
class FeedbackItem:
    id: str
    question: str
    answer_json: str
    vote: str | None
    comment: str
    created_at: float
    channel: str


class FeedbackStore:
    """Every answer shown is recorded; a vote updates its row. Safe across threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def record(self, answer: Answer, channel: Channel) -> str:
        item_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute("INSERT INTO feedback (id, question, answer_json, created_at, channel) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (item_id, answer.question, answer.model_dump_json(), time.time(), channel))
        return item_id

    def vote(self, item_id: str, vote: Vote, comment: str = "") -> bool:
        """Store a vote; False if the answer id is unknown."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        with self._lock:
            cursor = self._db.execute("UPDATE feedback SET vote = ?, comment = ?, voted_at = ? WHERE id = ?",
                                      (vote, comment[:2000], time.time(), item_id))
        return cursor.rowcount == 1

    def items(self, vote: Vote | None = None) -> list[FeedbackItem]:
        query = "SELECT id, question, answer_json, vote, comment, created_at, channel FROM feedback"
        params: tuple[str, ...] = ()
        if vote:
            query += " WHERE vote = ?"
            params = (vote,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at", params).fetchall()
        return [FeedbackItem(*row) for row in rows]

    def close(self) -> None:
        self._db.close()
