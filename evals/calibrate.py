"""`kb eval --calibrate`: thresholds and weights suggested from the calibration half only.

The reported half never informs a setting, so the numbers in the baseline are held-out figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.chain import Bot
from bot.retrieve import HybridRetriever
from bot.scope import evidence, is_gibberish, is_injection
from evals.corpora import split_of
from evals.dataset import Case
from evals.runner import first_relevant, ranked

if TYPE_CHECKING:
    from evals.suite import CorpusEval

# One setting at a time around the current values: small enough to run in a minute per corpus.
SWEEP: dict[str, tuple[float, ...]] = {
    "bm25_weight": (0.1, 0.3, 0.6, 1.0),
    "doc_weight": (0.0, 0.25, 0.5, 1.0),
    "rerank_sentence": (0.0, 0.25, 0.5, 1.0),
    "rerank_overlap": (0.0, 0.25, 0.5, 1.0),
    "rerank_depth": (5, 8, 12),
    "background_penalty": (0.0, 0.2, 0.4, 0.6),
    "topic_rerank": (0.0, 0.2, 0.5, 1.0),
}

def evidence_scores(bot: Bot, cases: list[Case]) -> tuple[list[float], list[float]]:
    """Fused evidence of answerable and of out-of-scope questions (those the guards already stop excluded)."""
    assert bot.corpus is not None
    answerable: list[float] = []
    out: list[float] = []
    for case in cases:
        _, query = bot.query(case.question, case.history)
        if case.kind == "out_of_scope" and (is_injection(query) or is_gibberish(query, bot.corpus)):
            continue
        score = evidence(query, bot.retriever.search(query), bot.corpus, bot.settings.answer)
        (out if case.kind == "out_of_scope" else answerable).append(score)
    return answerable, out


def suggest_threshold(bot: Bot, cases: list[Case]) -> str:
    answerable, out = evidence_scores(bot, cases)
    if not answerable:
        return "no answerable calibration cases"
    candidates = sorted({round(x, 3) for x in answerable + out})
    best, best_score = bot.settings.answer.min_evidence, -1.0
    for threshold in candidates:
        recall = sum(x >= threshold for x in answerable) / max(1, len(answerable))
        specificity = sum(x < threshold for x in out) / max(1, len(out))
        if (recall + specificity) / 2 > best_score:
            best, best_score = threshold, (recall + specificity) / 2
    lowest_in = min(answerable, default=0.0)
    highest_out = max(out, default=0.0)
    midpoint = round((lowest_in + highest_out) / 2, 3) if lowest_in > highest_out else best
    return (f"answerable evidence: min {lowest_in:.3f}, median {sorted(answerable)[len(answerable) // 2]:.3f}\n"
            f"out-of-scope evidence (after the injection and gibberish guards): max {highest_out:.3f}\n"
            f"best balanced accuracy {best_score:.3f} at {best:.3f}; suggested KB_ANSWER__MIN_EVIDENCE={midpoint}\n"
            f"current setting: {bot.settings.answer.min_evidence}")


def retrieval_hit_at_1(bot: Bot, retriever: HybridRetriever, cases: list[Case]) -> float:
    hits = sum(first_relevant(case, ranked(retriever, bot.query(case.question, case.history)[1])) == 1
               for case in cases)
    return hits / max(1, len(cases))


def weight_sweep(bot: Bot, cases: list[Case]) -> str:
    """Retrieval hit@1 on the calibration half as each retrieval weight varies, the others fixed."""
    answerable = [c for c in cases if c.kind != "out_of_scope"]
    base = bot.settings.retrieve
    rows = [f"current: {', '.join(f'{k}={getattr(base, k)}' for k in SWEEP)}"]
    for name, values in SWEEP.items():
        scores = []
        for value in values:
            retriever = HybridRetriever(bot.retriever.corpus, bot.embedder, base.model_copy(update={name: value}))
            scores.append(f"{value:g}: {retrieval_hit_at_1(bot, retriever, answerable):.3f}")
        rows.append(f"KB_RETRIEVE__{name.upper():18} hit@1 " + "  ".join(scores))
    return "\n".join(rows)


def suggest(evaluated: CorpusEval) -> str:
    cases = [c for c in evaluated.dataset.cases if split_of(c) == "calibrate"]
    return "\n".join([weight_sweep(evaluated.bot, cases), suggest_threshold(evaluated.bot, cases)])

