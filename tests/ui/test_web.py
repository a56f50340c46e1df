"""The web UI's source filter and documents table, without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chain import Bot
from ui.feedback import FeedbackStore
from ui.web import ANY_SOURCE, _documents_table, build_web

pytestmark = pytest.mark.integration


def test_the_source_filter_lists_the_index_sources(fixture_bot: Bot, tmp_path: Path) -> None:
    blocks = build_web(fixture_bot, FeedbackStore(tmp_path / "feedback.sqlite3"))
    (source,) = [b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "kb-source-filter"]
    assert [choice[0] for choice in source.choices] == [ANY_SOURCE, "kb"]  # type: ignore[attr-defined]


def test_documents_table_names_each_documents_source(fixture_bot: Bot) -> None:
    rows = _documents_table(fixture_bot)
    assert rows and {row[1] for row in rows} == {"kb"}
    assert len({(row[1], row[2]) for row in rows}) == len(rows)
