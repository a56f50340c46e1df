"""Bring your own repository: a README's folder templates answer template questions, verbatim and cited."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.chain import load_bot
from core.settings import Settings
from ingest.pipeline import ingest
from tests.conftest import FIXTURES, ROOT

pytestmark = pytest.mark.integration


def test_a_template_question_gets_the_folders_template_verbatim(tmp_path: Path, bundled_embedder: object) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "repo", repo)
    settings = Settings(sources=[repo], index_dir=tmp_path / "index", exclude_rules=ROOT / "kb" / "exclude.yaml",
                        persona=ROOT / "kb" / "personas" / "serverless-architect.md",
                        _env_file=None)  # type: ignore[call-arg]
    ingest(settings, bundled_embedder)  # type: ignore[arg-type]
    bot = load_bot(settings, bundled_embedder)  # type: ignore[arg-type]
    answer = bot.ask("show me a SAM template for an SQS-triggered function with partial batch responses")
    expected = (repo / "orders-queue" / "template.yaml").read_text().rstrip("\n")
    assert any(t.code == expected for t in answer.templates), [t.source for t in answer.templates]
    sources = [c.source for c in answer.citations]
    assert "orders-queue/template.yaml" in sources and "orders-queue/README.md" in sources, sources
    template = next(c for c in answer.citations if c.source == "orders-queue/template.yaml")
    assert template.location == "orders-queue/template.yaml:1-28"
