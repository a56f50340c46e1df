"""Reports: evals/reports/latest.md and latest.html with plots against the baseline."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here; plots go to files
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from evals.baseline import Finding
from evals.runner import EvalResult

SHOWN = (
    "answer_hit@1", "answer_hit@5", "code_template_hit", "hit_rate@1", "hit_rate@5", "recall@5", "mrr@10",
    "ndcg@10", "citation_validity", "citation_support", "groundedness", "fact_recall", "template_fidelity",
    "template_hit", "disclaimer_presence", "abstention_tnr", "false_abstain", "pass_rate",
)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _metrics_plot(result: EvalResult, baseline: dict[str, float]) -> str:
    names = [n for n in SHOWN if n in result.metrics]
    figure, axes = plt.subplots(figsize=(10, 4))
    xs = range(len(names))
    axes.bar([x - 0.2 for x in xs], [baseline.get(n, 0.0) for n in names], width=0.4, label="baseline")
    axes.bar([x + 0.2 for x in xs], [result.metrics[n] for n in names], width=0.4, label="current")
    axes.set_xticks(list(xs), names, rotation=45, ha="right")
    axes.set_ylim(0, 1.05)
    axes.legend()
    axes.set_title("Metrics against the baseline")
    return _png(figure)


def _cases_plot(result: EvalResult) -> str:
    figure, axes = plt.subplots(figsize=(10, 1.6))
    colors = ["#16a34a" if c.passed else "#dc2626" for c in result.cases]
    axes.bar(range(len(colors)), [1] * len(colors), color=colors, width=1.0)
    axes.set_yticks([])
    axes.set_xlabel("question (green: pass, red: fail)")
    axes.set_title("Per-question pass/fail")
    return _png(figure)


def _rank_plot(result: EvalResult) -> str:
    ranks = [c.first_relevant_rank or 11 for c in result.cases if c.kind != "out_of_scope"]
    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist(ranks, bins=range(1, 13), align="left", rwidth=0.8)
    axes.set_xticks(range(1, 12), [*map(str, range(1, 11)), ">10"])
    axes.set_xlabel("rank of the first correct source (hybrid retrieval)")
    axes.set_ylabel("questions")
    return _png(figure)


def markdown_report(result: EvalResult, baseline: dict[str, float], findings: list[Finding]) -> str:
    lines = ["# Eval report", "", f"Cases: {result.counts}; support threshold tau = {result.tau}", "",
             "| metric | baseline | current |", "|---|---|---|"]
    lines += [f"| {n} | {baseline.get(n, float('nan')):.4f} | {v:.4f} |" for n, v in sorted(result.metrics.items())]
    lines += ["", "## Gate", ""]
    lines += [f"- FAIL {f.message}" for f in findings] or ["- pass"]
    failing = [c for c in result.cases if not c.passed]
    lines += ["", f"## Failing questions ({len(failing)})", ""]
    for case in failing:
        lines.append(f"- `{case.id}` ({case.kind}) {case.question}")
        if case.kind == "out_of_scope":
            lines.append("  - expected: abstain; got: an answer citing " + (", ".join(case.got) or "nothing"))
            continue
        lines.append(f"  - expected: {', '.join(case.expected)}")
        lines.append(f"  - got: {'abstained' if case.abstained else ', '.join(case.got)}; first relevant rank "
                     f"{case.first_relevant_rank}; missing facts: {', '.join(case.missing_facts) or 'none'}")
    return "\n".join(lines) + "\n"


def write_reports(result: EvalResult, baseline: dict[str, float], findings: list[Finding], folder: Path,
                  name: str = "kb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    markdown = markdown_report(result, baseline, findings)
    (folder / f"{name}.md").write_text(markdown, encoding="utf-8")
    images = "".join(f'<img alt="{name}" src="data:image/png;base64,{data}">' for name, data in (
        ("metrics", _metrics_plot(result, baseline)), ("cases", _cases_plot(result)), ("ranks", _rank_plot(result))))
    page = (f"<!doctype html><meta charset='utf-8'><title>serverless-kb eval</title>"
            f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'>{images}"
            f"<pre style='white-space:pre-wrap'>{html.escape(markdown)}</pre></body>")
    (folder / f"{name}.html").write_text(page, encoding="utf-8")
    return folder / f"{name}.md"
