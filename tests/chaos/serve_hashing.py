"""Serve an index built with the hashing embedder, as `kb serve` does (a chaos test helper).

usage: python -m tests.chaos.serve_hashing BASE PORT [SLOW_SECONDS]
BASE holds kb/ and index/ as tests.chaos.conftest.hashing_settings lays them out. SLOW_SECONDS makes
every answer take at least that long, so a test can catch answers in flight.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.answer import Answer
from bot.chain import ExtractiveAnswerer, load_bot
from bot.compose import Composer
from bot.retrieve import Retrieval
from core.settings import Settings
from tests.chaos.conftest import HASHING
from tests.fakes import HashingEmbedder
from ui.server import serve


class SlowAnswerer(ExtractiveAnswerer):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def answer(self, question: str, retrieval: Retrieval, composer: Composer) -> Answer:
        time.sleep(self.seconds)
        return super().answer(question, retrieval, composer)


def main() -> None:
    base, port = Path(sys.argv[1]), int(sys.argv[2])
    slow = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    settings = Settings(sources=[base / "kb"], index_dir=base / "index", persona=base / "kb" / "personas" /
                        "test-persona.md", port=port, reload_seconds=0.2, _env_file=None,  # type: ignore[call-arg]
                        **HASHING)
    bot = load_bot(settings, HashingEmbedder(), SlowAnswerer(slow) if slow else None)
    serve(bot)


if __name__ == "__main__":
    main()
