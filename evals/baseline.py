"""The regression gate: hard gates, and drops beyond a margin that are statistically significant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ranx.statistical_tests import fisher_randomization_test

from evals.runner import HARD_GATES, EvalResult

PERMUTATIONS = 10_000
ALPHA = 0.05
# How far a metric may fall before the significance test is consulted (absolute, on a 0..1 scale).
MARGINS = {
    "hit_rate@1": 0.03, "hit_rate@5": 0.03, "recall@5": 0.03, "mrr@10": 0.03, "ndcg@10": 0.03,
    "citation_support": 0.03, "groundedness": 0.03, "fact_recall": 0.03, "template_hit": 0.05,
    "abstention_tnr": 0.0, "pass_rate": 0.03, "answer_hit@1": 0.03, "answer_hit@5": 0.03,
}
LOWER_IS_BETTER = {"false_abstain": 0.03}


@dataclass(frozen=True)
class Finding:
    metric: str
    baseline: float
    current: float
    p_value: float | None
    message: str


def save_baseline(results: dict[str, EvalResult | dict[str, object]], path: Path) -> None:
    """One entry per corpus (the reported half); corpora not rerun keep their stored entry."""
    data = {name: result if isinstance(result, dict) else
            {"metrics": result.metrics, "per_query": result.per_query, "tau": result.tau, "counts": result.counts}
            for name, result in sorted(results.items())}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_baseline(path: Path) -> dict[str, dict[str, object]] | None:
    """Corpus name -> its stored entry. A baseline from before there were several corpora is kb's."""
    if not path.exists():
        return None
    data: dict[str, dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return {"kb": dict(data)} if "metrics" in data else data


def _paired(base: dict[str, float], current: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    shared = sorted(set(base) & set(current))
    return (np.asarray([base[q] for q in shared], dtype=np.float64),
            np.asarray([current[q] for q in shared], dtype=np.float64))


def check(result: EvalResult, baseline: dict[str, object] | None) -> list[Finding]:
    """Everything that fails the gate; empty means the check passes."""
    findings = [Finding(g, 1.0, result.metrics.get(g, 0.0), None, f"hard gate: {g} must be 100%")
                for g in HARD_GATES if result.metrics.get(g, 0.0) < 1.0]
    if baseline is None:
        return findings
    per_query: dict[str, dict[str, float]] = baseline["per_query"]  # type: ignore[assignment]
    for metric, margin in {**MARGINS, **LOWER_IS_BETTER}.items():
        if metric not in per_query or metric not in result.per_query:
            continue
        control, treatment = _paired(per_query[metric], result.per_query[metric])
        if not len(control):
            continue
        drop = treatment.mean() - control.mean() if metric in LOWER_IS_BETTER else control.mean() - treatment.mean()
        if drop <= margin:
            continue
        p_value, _ = fisher_randomization_test(control, treatment, PERMUTATIONS, ALPHA, 42)
        if p_value < ALPHA:
            findings.append(Finding(metric, float(control.mean()), float(treatment.mean()), float(p_value),
                                    f"{metric} fell from {control.mean():.3f} to {treatment.mean():.3f} "
                                    f"(margin {margin}, Fisher randomization p={p_value:.4f})"))
    return findings
