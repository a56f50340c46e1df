"""Thumbs up/down with an optional comment, in a SQLite file in the index folder.

Feedback is a courtesy, answers are the product: a store that cannot be opened or written (a full
disk, a read-only folder) logs a warning and records nothing, and every answer is still served.
The newest `max_rows` answers are kept; older ones are dropped as new ones arrive.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.answer import Answer

log = logging.getLogger("kb.feedback")
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

    def __init__(self, path: Path, max_rows: int = 100_000) -> None:
        self.path = path
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self.error = ""  # why feedback is not being recorded ("" while it is)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            self._failed("cannot open", exc)
            self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            self._db.execute(_SCHEMA)  # votes on this run's answers still work, in memory

    def _failed(self, what: str, exc: Exception) -> None:
        self.error = f"{what} {self.path}: {exc}"
        log.warning("feedback is not recorded: %s", self.error)

    def record(self, answer: Answer, channel: Channel) -> str:
        """The new row's id, or "" when it could not be written (the answer is served all the same)."""
        item_id = uuid.uuid4().hex
        try:
            with self._lock:
                self._db.execute("INSERT INTO feedback (id, question, answer_json, created_at, channel) "
                                 "VALUES (?, ?, ?, ?, ?)",
                                 (item_id, answer.question, answer.model_dump_json(), time.time(), channel))
                self._db.execute("DELETE FROM feedback WHERE rowid <= (SELECT rowid FROM feedback "
                                 "ORDER BY rowid DESC LIMIT 1 OFFSET ?)", (self.max_rows,))
        except sqlite3.Error as exc:
            self._failed("cannot write to", exc)
            return ""
        self.error = ""
        return item_id

    def vote(self, item_id: str, vote: Vote, comment: str = "") -> bool:
        """Store a vote; False if the answer id is unknown."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        try:
            with self._lock:
                cursor = self._db.execute("UPDATE feedback SET vote = ?, comment = ?, voted_at = ? WHERE id = ?",
                                          (vote, comment[:2000], time.time(), item_id))
        except sqlite3.Error as exc:
            self._failed("cannot write to", exc)
            return False
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
