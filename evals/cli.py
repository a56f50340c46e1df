"""`kb eval` and `kb bench`, registered on the `kb` app by the composition root, app.cli."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from core.errors import EvalGateError, QuestionError

EVALS = Path(__file__).parent


def register(app: typer.Typer) -> None:
    from core.settings import build_settings
    from ingest.cli import IndexOpt, SourceOpt, make_embedder

    @app.command("eval")
    def run(source: list[Path] | None = SourceOpt, index: Path | None = IndexOpt,
            corpus: list[str] | None = typer.Option(None, "--corpus", help="kb, seeds or powertools (repeatable); "
                                                    "default: every corpus whose folder exists"),
            split: str = typer.Option("report", "--split", help="report (the held-out half), calibrate or all"),
            check: bool = typer.Option(False, "--check", help="exit 1 if a gate fails or a metric drops"),
            update_baseline: bool = typer.Option(False, "--update-baseline", help="rewrite evals/baseline.json"),
            calibrate: bool = typer.Option(False, "--calibrate", help="suggest thresholds from the calibration half"),
            ) -> None:
        """Measure answer quality on each corpus's golden set; compare with the committed baseline."""
        from evals.baseline import check as gate
        from evals.baseline import load_baseline, save_baseline
        from evals.report import write_reports
        from evals.runner import EvalResult
        from evals.suite import SPLITS, available, evaluate_corpus

        if split not in SPLITS:
            raise QuestionError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
        settings = build_settings(source, index)
        chosen = available(settings, corpus)
        embedder = make_embedder(settings)
        baseline_path = EVALS / "baseline.json"
        stored = load_baseline(baseline_path) or {}
        baselines: dict[str, EvalResult | dict[str, object]] = dict(stored)
        failed = 0
        for item in chosen:
            evaluated = evaluate_corpus(settings, item, embedder)
            if calibrate:
                from evals.calibrate import suggest

                print(f"== {item.name} (calibration half)")
                print(suggest(evaluated))
                continue
            result = evaluated.result(split)
            baseline = stored.get(item.name)
            findings = gate(result, baseline)
            metrics: dict[str, float] = baseline["metrics"] if baseline else {}  # type: ignore[assignment]
            report = write_reports(result, metrics, findings, settings.index_dir / "reports", item.name)
            print(f"== {item.name}: {len(result.cases)} cases ({split} half), report {report}")
            for name in sorted(result.metrics):
                print(f"{name:32} {result.metrics[name]:.4f}")
            if update_baseline and split == "report":
                baselines[item.name] = result
            for finding in findings:
                print(f"FAIL {item.name}: {finding.message}", file=sys.stderr)
            failed += len(findings)
        if update_baseline and not calibrate:
            save_baseline(baselines, baseline_path)
            print(f"baseline written: {baseline_path}")
        if check and failed:
            raise EvalGateError(f"{failed} eval gate(s) failed; see the reports under {settings.index_dir / 'reports'}")

    @app.command()
    def bench() -> None:
        """Print speed and memory figures (the same as `make bench`)."""
        from evals.bench import main

        main()
