from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.answer import Answer, Citation, Template
from core.errors import KBError
from evals import metrics as m
from evals.baseline import check
from evals.dataset import Case, Dataset, load_dataset
from evals.runner import CaseResult, EvalResult


def _embed(texts: list[str]) -> np.ndarray:
    from tests.fakes import HashingEmbedder

    return HashingEmbedder().embed(texts)


def _answer(points: list[str], cited: str, template: str = "") -> Answer:
    citations = [Citation(n=1, source="a.md", title="A", section="A > S", anchor="s", start_line=2, end_line=2,
                          score=1.0, text=cited)]
    templates = []
    if template:
        citations.append(Citation(n=2, source="a.md", title="A", section="A > T", anchor="t", start_line=3,
                                  end_line=5, score=1.0, text=template))
        templates = [Template(n=2, language="yaml", code=template, source="a.md", section="A > T")]
    body = "\n".join(f"- {p}" for p in points) + ("\n[2]" if template else "")
    return Answer(question="q", answer=body + "\n> General.", abstained=False, citations=citations,
                  templates=templates, disclaimer="General.", points=points)


def test_citation_validity_and_support() -> None:
    good = _answer(["Use full jitter on retries [1]"], "Retries should use full jitter and a cap.")
    assert m.citation_valid(good)
    assert m.citation_support(good, _embed, 0.5) == 1.0
    invented = _answer(["Lasagna bakes for forty minutes [1]", "Cache it [3]"], "Retries should use full jitter.")
    assert not m.citation_valid(invented)
    assert m.citation_support(invented, _embed, 0.5) == 0.0


def test_template_fidelity_reads_the_source_lines(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\ntext\n```yaml\nk: v\n```\n")
    assert m.template_fidelity(_answer(["x y z [1]"], "text", template="k: v"), [tmp_path])
    assert not m.template_fidelity(_answer(["x y z [1]"], "text", template="k: changed"), [tmp_path])


def test_fact_recall_and_template_hit() -> None:
    case = Case(id="c", kind="in_scope", question="how to retry?", expected=[{"source": "a.md"}],  # type: ignore[list-item]
                must_include=["full jitter", "maxReceiveCount"], template_languages=["yaml"])
    answer = _answer(["Use full jitter [1]"], "x", template="maxReceiveCount: 5")
    assert m.fact_recall(answer, case) == 1.0 and m.template_hit(answer, case) is True


def test_dataset_validation_names_the_case(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("cases:\n  - id: oos-x\n    kind: out_of_scope\n    question: cook pasta?\n"
                   "    must_include: [pasta]\n")
    with pytest.raises(KBError, match=r"case oos-x"):
        load_dataset(bad)
    with pytest.raises(ValueError, match="duplicate"):
        Dataset.model_validate({"cases": [{"id": "a", "kind": "out_of_scope", "question": "abc"}] * 2})


def _result(values: list[float], gate: float = 1.0) -> EvalResult:
    per_query = {"fact_recall": {f"q{i}": v for i, v in enumerate(values)},
                 "citation_validity": {f"q{i}": gate for i in range(len(values))}}
    metrics = {k: float(np.mean(list(v.values()))) for k, v in per_query.items()}
    metrics.update(template_fidelity=1.0, disclaimer_presence=1.0)
    cases = [CaseResult(id=f"q{i}", kind="in_scope", question="q", abstained=False, passed=True)
             for i in range(len(values))]
    return EvalResult(metrics=metrics, per_query=per_query, cases=cases, tau=0.5, counts={})


def test_gate_flags_significant_drops_and_hard_gates_only() -> None:
    baseline = {"per_query": _result([1.0] * 40).per_query}
    assert check(_result([1.0] * 39 + [0.5]), baseline) == [], "a small drop within the margin passes"
    dropped = check(_result([0.0] * 20 + [1.0] * 20), baseline)
    assert [f.metric for f in dropped] == ["fact_recall"] and dropped[0].p_value is not None
    assert dropped[0].p_value < 0.05
    noisy = check(_result([1.0] * 38 + [0.0] * 2), {"per_query": _result([1.0] * 39 + [0.0]).per_query})
    assert noisy == [], "a drop the randomization test cannot tell from noise passes"
    broken = check(_result([1.0] * 40, gate=0.0), baseline)
    assert [f.metric for f in broken] == ["citation_validity"]


def test_template_fidelity_for_included_and_tab_indented_code(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def handler(event, context):\n\treturn 1\n")
    answer = _answer(["x y z [1]"], "text", template="def handler(event, context):\n\treturn 1")
    included = answer.citations[1].model_copy(update={"origin": "handler.py", "start_line": 1, "end_line": 2})
    answer = answer.model_copy(update={"citations": [answer.citations[0], included]})
    assert m.template_fidelity(answer, [tmp_path]), "an included file is compared at its own lines"
    (tmp_path / "a.md").write_text('# A\n=== "yaml"\n    ```yaml\n    k: v\n    ```\n')
    tabbed = _answer(["x y z [1]"], "text", template="k: v")
    tabbed = tabbed.model_copy(update={"citations": [tabbed.citations[0], tabbed.citations[1].model_copy(
        update={"start_line": 3, "end_line": 5})]})
    assert m.template_fidelity(tabbed, [tmp_path]), "a tab's indentation is not part of the template"


def test_template_hit_needs_the_right_language_from_an_expected_source() -> None:
    case = Case(id="c", kind="in_scope", question="sam?", expected=[{"source": "b.md"}],  # type: ignore[list-item]
                must_include=["x"], template_languages=["yaml"])
    assert m.template_hit(_answer(["p [1]"], "x", template="k: v"), case) is False, "a.md is not expected"


def test_a_single_corpus_baseline_is_read_as_kb(tmp_path: Path) -> None:
    from evals.baseline import load_baseline

    path = tmp_path / "baseline.json"
    path.write_text('{"metrics": {"hit_rate@1": 0.5}, "per_query": {}, "tau": 0.5, "counts": {}}')
    assert load_baseline(path) == {"kb": {"metrics": {"hit_rate@1": 0.5}, "per_query": {}, "tau": 0.5, "counts": {}}}
