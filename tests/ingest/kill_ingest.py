"""Run an ingest that SIGKILLs itself just before its Nth write to the index (a crash test helper).

usage: python -m tests.ingest.kill_ingest INDEX_DIR SOURCE_DIR RULES N
N = 0 counts the writes instead and prints the number.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from core.settings import Settings
from ingest.index import IndexStore
from ingest.pipeline import ingest
from tests.fakes import HashingEmbedder

WRITES = ("begin_write", "mark", "upsert", "update_metadata", "delete", "forget", "publish")


def main() -> None:
    index, source, rules, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    calls = 0

    def wrap(name: str) -> None:
        original = getattr(IndexStore, name)

        def counted(self: IndexStore, *args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, *args, **kwargs)

        setattr(IndexStore, name, counted)

    for name in WRITES:
        wrap(name)
    settings = Settings(sources=[Path(source)], index_dir=Path(index), exclude_rules=Path(rules),
                        embedding_model="test:hashing", max_chunk_tokens=64, target_chunk_tokens=48,
                        _env_file=None)  # type: ignore[call-arg]
    ingest(settings, HashingEmbedder())
    print(calls)


if __name__ == "__main__":
    main()
