"""Calibrate the abstention threshold on the eval questions (`kb eval --calibrate`)."""

from __future__ import annotations

from bot.chain import Bot
from bot.scope import evidence, is_gibberish, is_injection
from evals.dataset import Dataset


def evidence_scores(bot: Bot, dataset: Dataset) -> tuple[list[float], list[float]]:
    """Fused evidence of answerable and of out-of-scope questions (those the guards already stop excluded)."""
    assert bot.corpus is not None
    answerable: list[float] = []
    out: list[float] = []
    for case in dataset.cases:
        _, query = bot.query(case.question, case.history)
        if case.kind == "out_of_scope" and (is_injection(query) or is_gibberish(query, bot.corpus)):
            continue
        score = evidence(query, bot.retriever.search(query), bot.corpus, bot.settings.answer)
        (out if case.kind == "out_of_scope" else answerable).append(score)
    return answerable, out


def suggest_threshold(bot: Bot, dataset: Dataset) -> str:
    answerable, out = evidence_scores(bot, dataset)
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
