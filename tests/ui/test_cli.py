"""`kb feedback export --negative`: thumbs-down answers become candidate eval cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.chain import Bot
from evals.dataset import Dataset
from tests.conftest import ROOT
from ui.feedback import FeedbackStore

pytestmark = pytest.mark.integration


def test_export_negative_feedback_as_candidate_cases(fixture_bot: Bot, tmp_path: Path) -> None:
    index = tmp_path / "index"
    store = FeedbackStore(index / "feedback.sqlite3")
    good = store.record(fixture_bot.ask("How do I keep latency-sensitive functions warm?"), "web")
    bad = store.record(fixture_bot.ask("How many times should a failed message be retried before the DLQ?"), "slack")
    missed = store.record(fixture_bot.ask("What is the best recipe for lasagna?"), "api")
    store.vote(good, "up")
    store.vote(bad, "down", "it missed the Azure default")
    store.vote(missed, "down")
    out = tmp_path / "candidates.yaml"
    result = subprocess.run([str(Path(sys.executable).parent / "kb"), "feedback", "export", "--negative",
                             "--index", str(index), "--output", str(out)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert result.returncode == 0, result.stderr
    cases = yaml.safe_load(out.read_text())["cases"]
    assert [c["question"] for c in cases] == ["How many times should a failed message be retried before the DLQ?",
                                              "What is the best recipe for lasagna?"]
    assert cases[0]["expected"][0]["source"] == "patterns/resilience/retry-queues.md"
    assert "missed the Azure default" in cases[0]["review_note"] and cases[1]["kind"] == "out_of_scope"
    with pytest.raises(ValueError, match="review it and add the facts"):
        Dataset.model_validate({"cases": cases})
    cases[0]["must_include"] = ["maxReceiveCount"]
    assert len(Dataset.model_validate({"cases": cases}).cases) == 2, "reviewed candidates load as eval cases"
