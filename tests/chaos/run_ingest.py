"""Run one ingest with the hashing embedder in its own process, as `kb ingest` would (a chaos test helper).

usage: python -m tests.chaos.run_ingest INDEX_DIR CHROMA_URL COLLECTION RULES [--rebuild] [--prune] SOURCE...
CHROMA_URL may be "" for the embedded index. Prints the report as JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.errors import KBError
from core.settings import Settings
from ingest.pipeline import ingest
from tests.fakes import HashingEmbedder


def main() -> None:
    index, chroma_url, collection, rules, *rest = sys.argv[1:]
    flags = {a for a in rest if a.startswith("--")}
    sources = [Path(a) for a in rest if not a.startswith("--")]
    settings = Settings(sources=sources, index_dir=Path(index), chroma_url=chroma_url, collection=collection,
                        exclude_rules=Path(rules), embedding_model="test:hashing", max_chunk_tokens=64,
                        target_chunk_tokens=48, _env_file=None)  # type: ignore[call-arg]
    try:
        report = ingest(settings, HashingEmbedder(), rebuild="--rebuild" in flags, prune="--prune" in flags)
    except KBError as exc:
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
    print(report.model_dump_json())


if __name__ == "__main__":
    main()
