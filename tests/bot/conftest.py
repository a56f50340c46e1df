from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.chain import Bot, load_bot
from ingest.pipeline import ingest
from ingest.settings import Settings
from tests.conftest import FIXTURES, ROOT

KB = FIXTURES / "kb"


def fixture_settings(base: Path) -> Settings:
    shutil.copytree(KB, base / "kb")
    return Settings(sources=[base / "kb"], index_dir=base / "index", exclude_rules=ROOT / "kb" / "exclude.yaml",
                    persona=base / "kb" / "personas" / "test-persona.md", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def fixture_bot(tmp_path_factory: pytest.TempPathFactory, bundled_embedder: Any) -> Bot:
    """The small test knowledge base, ingested with the bundled model, behind a warm Bot."""
    settings = fixture_settings(tmp_path_factory.mktemp("fixture-kb"))
    ingest(settings, bundled_embedder)
    return load_bot(settings, bundled_embedder)
