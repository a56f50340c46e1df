"""`kb eval --check` as part of `make test`: the project knowledge base against the committed baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chain import load_bot
from evals.baseline import check, load_baseline
from evals.dataset import load_dataset
from evals.report import write_reports
from evals.runner import run_eval
from ingest.pipeline import ingest
from ingest.settings import Settings
from tests.conftest import ROOT

pytestmark = [pytest.mark.eval, pytest.mark.integration]
EVALS = ROOT / "evals"


def test_golden_set_is_valid_and_large_enough() -> None:
    dataset = load_dataset(EVALS / "golden.yaml")
    assert len(dataset.of_kind("in_scope")) >= 65
    assert len(dataset.of_kind("out_of_scope")) >= 15
    assert len(dataset.of_kind("followup")) >= 10
    for case in dataset.of_kind("in_scope", "followup"):
        for expected in case.expected:
            assert (ROOT / "kb" / expected.source).is_file(), f"{case.id}: {expected.source}"


def test_eval_check_passes_against_the_baseline(tmp_path: Path, bundled_embedder: object) -> None:
    settings = Settings(sources=[ROOT / "kb"], index_dir=tmp_path / "index", exclude_rules=ROOT / "kb/exclude.yaml",
                        persona=ROOT / "kb/personas/serverless-architect.md", _env_file=None)  # type: ignore[call-arg]
    ingest(settings, bundled_embedder)  # type: ignore[arg-type]
    bot = load_bot(settings, bundled_embedder)  # type: ignore[arg-type]
    result = run_eval(bot, load_dataset(EVALS / "golden.yaml"), EVALS / "support_labels.yaml")
    baseline = load_baseline(EVALS / "baseline.json")
    assert baseline is not None, "evals/baseline.json is committed"
    findings = check(result, baseline)
    report = write_reports(result, baseline["metrics"], findings, tmp_path / "reports")  # type: ignore[arg-type]
    assert not findings, "\n".join(f.message for f in findings) + f"\nsee {report}"
