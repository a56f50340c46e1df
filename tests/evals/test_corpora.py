"""The three golden sets: valid, large enough, split in halves, and true to their corpora."""

from __future__ import annotations

import pytest

from evals.corpora import EvalCorpus, check_golden, corpora, split_of
from evals.dataset import load_dataset
from tests.conftest import ROOT

CORPORA = corpora(ROOT / "kb", ROOT.parent / "shared")


@pytest.mark.parametrize("name", ["seeds", "powertools"])
def test_foreign_golden_sets_are_large_enough(name: str) -> None:
    dataset = load_dataset(CORPORA[name].golden)
    in_scope = dataset.of_kind("in_scope")
    assert len(in_scope) >= 40
    assert len(dataset.of_kind("out_of_scope")) >= 10
    assert sum(bool(c.template_languages) for c in in_scope) >= 10, "at least ten ask for code"


@pytest.mark.parametrize("name", ["kb", "seeds", "powertools"])
def test_every_expected_section_and_fact_exists_in_the_corpus(name: str) -> None:
    corpus: EvalCorpus = CORPORA[name]
    if not corpus.available():
        pytest.skip(f"{corpus.root} is absent")
    problems = check_golden(load_dataset(corpus.golden), corpus.root, ROOT / "kb" / "exclude.yaml")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("name", ["kb", "seeds", "powertools"])
def test_each_half_has_every_kind_of_question(name: str) -> None:
    dataset = load_dataset(CORPORA[name].golden)
    for half in ("calibrate", "report"):
        cases = [c for c in dataset.cases if split_of(c) == half]
        assert len(cases) >= 0.35 * len(dataset.cases)
        assert any(c.kind == "out_of_scope" for c in cases)
        assert any(c.template_languages for c in cases)


def test_content_hash_changes_with_any_file(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "a.md").write_text("# A\n\ntext\n")
    corpus = EvalCorpus("x", root, root / "golden.yaml")
    before = corpus.content_hash()
    (root / "a.md").write_text("# A\n\ntext changed\n")
    assert corpus.content_hash() != before
