"""The everyday-facts measure (issue: limits and defaults answered with the fact): for each
`everyday-*` case, is every `must_include` fact in the answer's points, or did the bot abstain?

usage: python -m evals.everyday [report|calibrate|all]
"""

from __future__ import annotations

import sys

from core.settings import build_settings
from evals.corpora import split_of
from evals.suite import available, evaluate_corpus
from ingest.cli import make_embedder


def main() -> None:
    split = sys.argv[1] if len(sys.argv) > 1 else "report"
    settings = build_settings()
    corpus = next(c for c in available(settings, ["kb"]))
    evaluated = evaluate_corpus(settings, corpus, make_embedder(settings))
    cases = [c for c in evaluated.dataset.cases if c.id.startswith("everyday-")
             and (split == "all" or split_of(c) == split)]
    counts = {"all facts in points": 0, "some facts": 0, "abstained": 0, "missed": 0}
    for case in cases:
        answer = evaluated.bot.ask(case.question)
        points = " ".join(answer.points).lower()
        found = [fact for fact in case.must_include if fact.lower() in points]
        kind = ("abstained" if answer.abstained else "all facts in points" if len(found) == len(case.must_include)
                else "some facts" if found else "missed")
        counts[kind] += 1
        if kind != "all facts in points":
            print(f"{kind:10} {case.id}: missing {sorted(set(case.must_include) - set(found))}")
    total = len(cases)
    print(f"{split} half: {total} everyday cases")
    for kind, n in counts.items():
        print(f"  {kind:22} {n:3}  {n / max(total, 1):.0%}")


if __name__ == "__main__":
    main()
