"""Optional LLM answerer (filled in below)."""

from __future__ import annotations

from bot.chain import Answerer
from ingest.settings import Settings


def answerer_for(settings: Settings) -> Answerer | None:
    return None
