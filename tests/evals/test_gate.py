"""`kb eval --check` as part of `make test`: every eval corpus against the committed baseline.

Eval indexes are cached under .kb-index/evals/<corpus>-<content hash>, so a rerun on unchanged
files embeds nothing. Corpora under ../shared are skipped when it is absent.
"""

from __future__ import annotations

import pytest

from bot.retrieve import Filters
from bot.text import terms
from core.settings import Settings
from evals.baseline import check, load_baseline
from evals.corpora import corpora
from evals.dataset import load_dataset
from evals.report import write_reports
from evals.suite import CorpusEval, evaluate_corpus
from tests.conftest import ROOT

pytestmark = [pytest.mark.eval, pytest.mark.integration]
EVALS = ROOT / "evals"
SETTINGS = Settings(sources=[ROOT / "kb"], index_dir=ROOT / ".kb-index", exclude_rules=ROOT / "kb/exclude.yaml",
                    persona=ROOT / "kb/personas/serverless-architect.md", shared_dir=ROOT.parent / "shared",
                    chroma_url="", _env_file=None)  # type: ignore[call-arg]
CORPORA = corpora(ROOT / "kb", ROOT.parent / "shared")
_RUNS: dict[str, CorpusEval] = {}


def _evaluated(name: str, embedder: object) -> CorpusEval:
    corpus = CORPORA[name]
    if not corpus.available():
        pytest.skip(f"{corpus.root} is absent")
    if name not in _RUNS:
        _RUNS[name] = evaluate_corpus(SETTINGS, corpus, embedder)  # type: ignore[arg-type]
    return _RUNS[name]


def test_kb_golden_set_is_valid_and_large_enough() -> None:
    dataset = load_dataset(EVALS / "golden.yaml")
    assert len(dataset.of_kind("in_scope")) >= 65
    assert len(dataset.of_kind("out_of_scope")) >= 15
    assert len(dataset.of_kind("followup")) >= 10
    for case in dataset.of_kind("in_scope", "followup"):
        for expected in case.expected:
            assert (ROOT / "kb" / expected.source).is_file(), f"{case.id}: {expected.source}"


@pytest.mark.parametrize("name", ["kb", "seeds", "powertools"])
def test_eval_check_passes_against_the_baseline(name: str, bundled_embedder: object, tmp_path: object) -> None:
    evaluated = _evaluated(name, bundled_embedder)
    result = evaluated.result("report")
    baseline = (load_baseline(EVALS / "baseline.json") or {}).get(name)
    assert baseline is not None, f"evals/baseline.json has an entry for {name}"
    findings = check(result, baseline)
    report = write_reports(result, baseline["metrics"], findings, ROOT / ".kb-index" / "reports", name)  # type: ignore[arg-type]
    assert not findings, "\n".join(f.message for f in findings) + f"\nsee {report}"


@pytest.mark.parametrize("name", ["kb", "seeds", "powertools"])
def test_the_answer_keeps_what_retrieval_found(name: str, bundled_embedder: object) -> None:
    """When the bot answers, its first citation is as good as retrieval's first hit (abstentions are
    gated separately, as false_abstain)."""
    metrics = _evaluated(name, bundled_embedder).result("report").metrics
    assert metrics["answered_vs_retrieval@1"] >= 0.95, metrics


def test_a_question_finds_its_topic_by_its_rarest_word(bundled_embedder: object) -> None:
    bot = _evaluated("kb", bundled_embedder).bot
    question = "How do I make an SQS consumer idempotent?"
    documents = bot.retriever._document_ranking(terms(question), Filters())
    assert bot.retriever.corpus.doc_sources[documents[0][0]] == "patterns/resilience/idempotency.md"
    # (Which chunks the answer quotes is the eval's business: since the SQS standard-vs-FIFO pattern
    # arrived, its sentences about idempotent consumers lead this answer; see the kb report.)
