"""Run the golden set through the real bot and measure everything, per question."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from bot.chain import Bot
from bot.retrieve import HybridRetriever, Mode
from evals import metrics as m
from evals.dataset import Case, Dataset
from ingest.embed import Vectors

MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
EVAL_K = 10
HARD_GATES = ("citation_validity", "template_fidelity", "disclaimer_presence")


class CaseResult(BaseModel):
    id: str
    kind: str
    question: str
    abstained: bool
    passed: bool
    first_relevant_rank: int | None = None  # 1-based, hybrid retrieval; None if not in the top 10
    answer_rank: int | None = None  # 1-based position of the first right citation in the answer
    values: dict[str, float] = Field(default_factory=dict)  # metric -> value for this question
    expected: list[str] = Field(default_factory=list)
    got: list[str] = Field(default_factory=list)
    missing_facts: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


class EvalResult(BaseModel):
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    cases: list[CaseResult]
    tau: float
    counts: dict[str, int]


class SupportLabel(BaseModel):
    claim: str
    evidence: str
    supported: bool


def calibrate_tau(labels_path: Path, embed: m.Embed) -> float:
    """The support threshold that best separates the hand-labelled pairs."""
    labels = [SupportLabel.model_validate(x) for x in yaml.safe_load(labels_path.read_text())["pairs"]]
    pairs = m.support_matrix([x.claim for x in labels], [x.evidence for x in labels], embed).diagonal()
    scored = sorted((float(score), x.supported) for score, x in zip(pairs, labels, strict=True))
    best_tau, best_correct = 0.5, -1
    for i in range(len(scored) + 1):
        lower = scored[i - 1][0] if i else 0.0
        upper = scored[i][0] if i < len(scored) else 1.0
        tau = (lower + upper) / 2
        correct = sum((score >= tau) == supported for score, supported in scored)
        if correct > best_correct:
            best_tau, best_correct = tau, correct
    return round(best_tau, 4)


def ranked(retriever: HybridRetriever, query: str, mode: Mode = "hybrid",
           vector: Vectors | None = None) -> list[m.RankedChunk]:
    """The chunks a retriever ranks for a query (companions left out), as the metrics see them."""
    hits = [h for h in retriever.search(query, EVAL_K, mode=mode, vector=vector).hits if not h.companion]
    metas = retriever.corpus.metas
    return [m.RankedChunk(metas[h.row]["source"], metas[h.row]["section"], h.score, metas[h.row].get("origin", ""))
            for h in hits]


def first_relevant(case: Case, ranked: Sequence[m.RankedChunk]) -> int | None:
    return next((i + 1 for i, c in enumerate(ranked)
                 if any(e.matches(c.source, c.section, c.origin) for e in case.expected)), None)


def evaluate_case(bot: Bot, case: Case, tau: float, general: str) -> tuple[CaseResult, dict[Mode, Any]]:
    answer = bot.ask(case.question, history=case.history)
    result = CaseResult(id=case.id, kind=case.kind, question=case.question, abstained=answer.abstained, passed=False,
                        timings_ms=answer.timings_ms.model_dump(),
                        got=[f"{c.origin or c.source}#{c.section}" for c in answer.citations])
    values = result.values
    values["citation_validity"] = float(m.citation_valid(answer))
    values["template_fidelity"] = float(m.template_fidelity(answer, bot.settings.sources))
    values["disclaimer_presence"] = float(m.disclaimer_present(answer, general))
    runs: dict[Mode, Any] = {}
    if case.kind == "out_of_scope":
        values["abstention_tnr"] = float(answer.abstained)
        result.passed = answer.abstained
        return result, runs
    _, query = bot.query(case.question, case.history)
    vector = bot.retriever.embed_query(query)  # once for the three retrieval modes
    for mode in MODES:
        chunks = ranked(bot.retriever, query, mode, vector)
        runs[mode] = m.run_for(case, chunks)
        if mode == "hybrid":
            result.first_relevant_rank = first_relevant(case, chunks)
    values["false_abstain"] = float(answer.abstained)
    cited = [m.RankedChunk(c.source, c.section, c.score, c.origin) for c in answer.citations]
    answer_rank = first_relevant(case, cited)
    values["answer_hit@1"] = float(answer_rank == 1)
    values["answer_hit@5"] = float(answer_rank is not None and answer_rank <= 5)
    embed = bot.embedder.embed
    for name, value in (("citation_support", m.citation_support(answer, embed, tau)),
                        ("groundedness", m.groundedness(answer, [c.text for c in answer.citations], embed, tau)),
                        ("fact_recall", m.fact_recall(answer, case)),
                        ("template_hit", m.template_hit(answer, case))):
        if value is not None:
            values[name] = float(value)
    text = " ".join([*answer.points, *(t.code for t in answer.templates)]).lower()
    result.missing_facts = [f for f in case.must_include if f.lower() not in text]
    result.expected = [f"{e.source}#{e.section}" for e in case.expected]
    result.answer_rank = answer_rank
    result.passed = (not answer.abstained and bool(values["citation_validity"])
                     and values.get("fact_recall", 1.0) >= 0.5 and (answer_rank or 99) <= 5)
    return result, runs


class EvalRun(BaseModel):
    """Every case evaluated once; metrics are aggregated per split from these."""

    cases: list[CaseResult]
    runs: dict[str, dict[str, dict[str, float]]]  # retrieval mode -> case id -> ranx run
    tau: float

    def aggregate(self, dataset: Dataset, ids: set[str] | None = None) -> EvalResult:
        chosen = [c for c in dataset.cases if ids is None or c.id in ids]
        keep = {c.id for c in chosen}
        results = [r for r in self.cases if r.id in keep]
        per_query: dict[str, dict[str, float]] = {}
        for result in results:
            for name, value in result.values.items():
                per_query.setdefault(name, {})[result.id] = value
        answerable = [c for c in chosen if c.kind in ("in_scope", "followup")]
        for mode in MODES:
            runs = {q: run for q, run in self.runs.get(mode, {}).items() if q in keep}
            if not answerable or not runs:
                continue
            for name, scores in m.retrieval_scores(answerable, runs).items():
                per_query[name if mode == "hybrid" else f"{mode}:{name}"] = scores
        metrics = {name: round(statistics.fmean(values.values()), 4) for name, values in per_query.items() if values}
        for stage in ("retrieve", "compose", "total"):
            times = [r.timings_ms[stage] for r in results]
            metrics[f"latency_{stage}_p50_ms"] = round(m.percentile(times, 50), 2)
            metrics[f"latency_{stage}_p95_ms"] = round(m.percentile(times, 95), 2)
        metrics["pass_rate"] = round(sum(r.passed for r in results) / max(1, len(results)), 4)
        if metrics.get("hit_rate@1"):
            # The answer must carry what retrieval found: its first citation against retrieval's first hit,
            # over every answerable question, and over those the bot answered (abstention aside).
            metrics["answer_vs_retrieval@1"] = round(metrics.get("answer_hit@1", 0.0) / metrics["hit_rate@1"], 4)
            answered = [q for q, v in per_query.get("false_abstain", {}).items() if not v]
            retrieved = sum(per_query["hit_rate@1"].get(q, 0.0) for q in answered)
            if retrieved:
                found = sum(per_query["answer_hit@1"].get(q, 0.0) for q in answered)
                metrics["answered_vs_retrieval@1"] = round(found / retrieved, 4)
        code = [r.values["template_hit"] for r in results if "template_hit" in r.values]
        if code:
            metrics["code_template_hit"] = round(statistics.fmean(code), 4)
        counts = {kind: sum(c.kind == kind for c in chosen) for kind in ("in_scope", "out_of_scope", "followup")}
        return EvalResult(metrics=metrics, per_query=per_query, cases=results, tau=self.tau, counts=counts)


def evaluate_all(bot: Bot, dataset: Dataset, labels: Path) -> EvalRun:
    tau = calibrate_tau(labels, bot.embedder.embed)
    general = bot.persona.data.disclaimers.general if bot.persona else ""
    results: list[CaseResult] = []
    runs: dict[str, dict[str, dict[str, float]]] = {mode: {} for mode in MODES}
    for case in dataset.cases:
        result, case_runs = evaluate_case(bot, case, tau, general)
        results.append(result)
        for mode, run in case_runs.items():
            runs[mode][case.id] = run
    return EvalRun(cases=results, runs=runs, tau=tau)


def run_eval(bot: Bot, dataset: Dataset, labels: Path, ids: set[str] | None = None) -> EvalResult:
    """Evaluate the set (or the cases in ids) and aggregate its metrics."""
    chosen = dataset if ids is None else Dataset(cases=[c for c in dataset.cases if c.id in ids])
    return evaluate_all(bot, chosen, labels).aggregate(chosen)
