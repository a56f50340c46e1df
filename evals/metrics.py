"""Answer and retrieval metrics, per question, so drops can be tested for significance."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ranx import Qrels, Run, evaluate

from bot.answer import Answer
from bot.text import term_set
from core.text_units import CITATION
from evals.dataset import Case
from ingest.mkdocs import strip_columns

RETRIEVAL_METRICS = ("hit_rate@1", "hit_rate@5", "recall@5", "mrr@10", "ndcg@10")
Embed = Callable[[list[str]], np.ndarray]


def support_matrix(claims: Sequence[str], evidence: Sequence[str], embed: Embed) -> np.ndarray:
    """For every claim and evidence text: the larger of embedding cosine and content-word recall.
    All texts are embedded in one call."""
    vectors = embed([*claims, *evidence])
    cosine = vectors[: len(claims)] @ vectors[len(claims) :].T
    evidence_terms = [term_set(text) for text in evidence]
    recall = np.zeros_like(cosine)
    for i, claim in enumerate(claims):
        words = term_set(claim)
        for j, found in enumerate(evidence_terms):
            recall[i, j] = len(words & found) / len(words) if words else 0.0
    scores: np.ndarray = np.maximum(cosine, recall)
    return scores



def _claim(point: str) -> tuple[str, list[int]]:
    return CITATION.sub("", point).strip(), [int(n) for n in CITATION.findall(point)]


def _prose(markdown: str) -> str:
    """The answer without its fenced templates: `[0]` inside code is an index, not a citation."""
    return re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown)


def citation_valid(answer: Answer) -> bool:
    """Every [n] resolves to a citation, and every citation is used."""
    numbers = {c.n for c in answer.citations}
    used = {int(n) for n in CITATION.findall(_prose(answer.answer))}
    return used <= numbers and numbers <= used | {t.n for t in answer.templates}


def citation_support(answer: Answer, embed: Embed, tau: float) -> float | None:
    """Share of points whose cited chunk supports them (None when there are no points)."""
    if not answer.points:
        return None
    claims = [_claim(p) for p in answer.points]
    column = {c.n: j for j, c in enumerate(answer.citations)}
    scores = support_matrix([text for text, _ in claims], [c.text for c in answer.citations], embed)
    supported = sum(any(n in column and scores[i, column[n]] >= tau for n in numbers)
                    for i, (_, numbers) in enumerate(claims))
    return supported / len(answer.points)


def groundedness(answer: Answer, retrieved: Sequence[str], embed: Embed, tau: float) -> float | None:
    """Share of answer sentences supported by some retrieved chunk."""
    if not answer.points:
        return None
    if not retrieved:
        return 0.0
    scores = support_matrix([_claim(p)[0] for p in answer.points], retrieved, embed)
    return float((scores.max(axis=1) >= tau).mean())


def fact_recall(answer: Answer, case: Case) -> float | None:
    if not case.must_include:
        return None
    text = " ".join([*answer.points, *(t.code for t in answer.templates)]).lower()
    return sum(fact.lower() in text for fact in case.must_include) / len(case.must_include)


def template_fidelity(answer: Answer, roots: Sequence[Path]) -> bool:
    """Every template is byte-identical to the lines of the knowledge-base file it cites."""
    for template in answer.templates:
        citation = answer.citations[template.n - 1]
        file = citation.origin or citation.source
        path = next((root / file for root in roots if (root / file).is_file()), None)
        if path is None:
            return False
        lines = path.read_text(encoding="utf-8").split("\n")
        # A fenced template sits between its fence lines; an included file's lines are the template.
        first, last = (citation.start_line - 1, citation.end_line) if citation.origin else \
            (citation.start_line, citation.end_line - 1)
        if not _same_code(lines[first:last], template.code):
            return False
    return True


def _same_code(lines: list[str], code: str) -> bool:
    """Byte-identical, or identical once the indentation of enclosing mkdocs tabs or admonitions is
    removed the way ingestion removes it (four columns a level, the same on every line)."""
    if "\n".join(lines) == code:
        return True
    for columns in (4, 8, 12, 16):
        indented = all(not line.strip() or line.expandtabs(4)[:columns].isspace() for line in lines)
        if indented and "\n".join(strip_columns(line, columns) for line in lines) == code:
            return True
    return False


def template_hit(answer: Answer, case: Case) -> bool | None:
    """A template in an expected language, from an expected document (or included file)."""
    if not case.template_languages:
        return None
    by_n = {c.n: c for c in answer.citations}
    return any(t.language in case.template_languages and t.n in by_n
               and any(e.source in (by_n[t.n].source, by_n[t.n].origin) for e in case.expected)
               for t in answer.templates)


def disclaimer_present(answer: Answer, general: str) -> bool:
    return bool(answer.disclaimer) and answer.disclaimer.startswith(general) and general in answer.answer


@dataclass(frozen=True)
class RankedChunk:
    source: str
    section: str
    score: float
    origin: str = ""  # included code: the file it came from


def qrels_for(cases: Sequence[Case]) -> dict[str, dict[str, int]]:
    return {c.id: {f"{e.source}#{e.section}": e.relevance for e in c.expected} for c in cases}


def run_for(case: Case, ranked: Sequence[RankedChunk]) -> dict[str, float]:
    """Chunks mapped to the expected entry they match (the first hit counts), else to themselves."""
    run: dict[str, float] = {}
    for rank, chunk in enumerate(ranked):
        match = next((e for e in case.expected if e.matches(chunk.source, chunk.section, chunk.origin)), None)
        doc = f"{match.source}#{match.section}" if match else f"{chunk.source}#{chunk.section}"
        run.setdefault(doc, 1.0 / (rank + 1))
    return run or {"none#": 0.0}


def retrieval_scores(cases: Sequence[Case], runs: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per-question values of each retrieval metric, with ranx."""
    qrels = Qrels(qrels_for(cases))
    run = Run(runs)
    evaluate(qrels, run, list(RETRIEVAL_METRICS), save_results_in_run=True)
    return {metric: {q: float(v) for q, v in run.scores[metric].items()} for metric in RETRIEVAL_METRICS}


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0
