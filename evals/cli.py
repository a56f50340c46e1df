"""`kb eval` and `kb bench`, registered on the `kb` app by ingest.cli's plugin hook."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ingest.errors import KBError

EVALS = Path(__file__).parent


def register(app: typer.Typer) -> None:
    from ingest.cli import IndexOpt, SourceOpt, build_settings, make_embedder

    @app.command("eval")
    def run(source: list[Path] | None = SourceOpt, index: Path | None = IndexOpt,
            dataset: Path = typer.Option(EVALS / "golden.yaml", "--dataset", help="the golden eval set"),
            check: bool = typer.Option(False, "--check", help="exit 1 if a gate fails or a metric drops"),
            update_baseline: bool = typer.Option(False, "--update-baseline", help="rewrite evals/baseline.json"),
            calibrate: bool = typer.Option(False, "--calibrate", help="suggest the abstention threshold")) -> None:
        """Measure answer quality on the golden set; compare with the committed baseline."""
        from bot.chain import load_bot
        from evals.baseline import check as gate
        from evals.baseline import load_baseline, save_baseline
        from evals.dataset import load_dataset
        from evals.report import write_reports
        from evals.runner import run_eval

        settings = build_settings(source, index)
        cases = load_dataset(dataset)
        bot = load_bot(settings, make_embedder(settings))
        if calibrate:
            from evals.calibrate import suggest_threshold

            print(suggest_threshold(bot, cases))
            return
        result = run_eval(bot, cases, EVALS / "support_labels.yaml")
        baseline_path = EVALS / "baseline.json"
        baseline = load_baseline(baseline_path)
        findings = gate(result, baseline)
        report = write_reports(result, baseline["metrics"] if baseline else {}, findings,  # type: ignore[arg-type]
                               EVALS / "reports")
        for name in sorted(result.metrics):
            print(f"{name:32} {result.metrics[name]:.4f}")
        print(f"report: {report} (and latest.html)")
        if update_baseline:
            save_baseline(result, baseline_path)
            print(f"baseline written: {baseline_path}")
        for finding in findings:
            print(f"FAIL {finding.message}", file=sys.stderr)
        if check and findings:
            raise KBError(f"{len(findings)} eval gate(s) failed; see {report}") from None

    @app.command()
    def bench() -> None:
        """Print speed and memory figures (the same as `make bench`)."""
        from evals.bench import main

        main()
