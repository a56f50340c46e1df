"""`make bench`, repository scale: a generated corpus of service folders (README, IaC and code) ingested
in one `kb ingest` run, then re-ingested with no change.

Prints, for the fresh run: files/s of the conversion stage (finding, reading and converting files to
markdown, then cleaning and chunking) apart from the embedding, conversion's share of the embedding
time, the pipeline's chunks/s against raw encoding of a sample of the same chunk texts in the same
run, and the peak RSS of the `kb ingest` process; then the wall time of a `kb ingest` that finds
nothing changed. Figures, not assertions.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

from core.settings import Settings
from evals.bench import embedded_texts, raw_rate, run_ingest
from evals.repo_corpus import write_repo_corpus


def bench_repo_scale(base: Settings, embedder: Any, work: Path, folders: int = 1000, sample: int = 2000,
                     noops: int = 3) -> dict[str, Any]:
    """Write `folders` service folders under `work`, ingest them fresh, then re-ingest `noops` times."""
    started = time.perf_counter()
    files = write_repo_corpus(work / "repo", folders)
    written_s = time.perf_counter() - started
    settings = base.model_copy(update={"index_dir": work / "repo-index"})
    source = f"{work / 'repo'}=services"
    report, peak_mb, wall = run_ingest(settings, source)
    embedded = embedded_texts(settings, embedder)
    texts = random.Random(11).sample(embedded, min(sample, len(embedded)))
    embedder.warm_up()
    _, raw_cps = raw_rate(embedder, texts)
    again = [run_ingest(settings, source) for _ in range(noops)]
    if any(r["chunks_added"] or r["chunks_deleted"] for r, _, _ in again):
        raise RuntimeError("a re-ingest with no change wrote chunks")
    convert_s = report["load_seconds"] + report["chunk_seconds"]
    return {"folders": folders, "files": files, "written_s": written_s, "report": report, "peak_mb": peak_mb,
            "wall_s": wall, "convert_s": convert_s, "convert_fps": report["files_read"] / convert_s,
            "load_fps": report["files_read"] / report["load_seconds"],
            "share": convert_s / report["embed_seconds"] if report["embed_seconds"] else float("nan"),
            "pipeline_cps": report["chunks_added"] / report["seconds"], "raw_cps": raw_cps, "sample": len(texts),
            "noop_wall_s": statistics.median(w for _, _, w in again),
            "noop_s": statistics.median(r["seconds"] for r, _, _ in again),
            "noop_peak_mb": max(m for _, m, _ in again)}


def print_repo_scale(scale: dict[str, Any]) -> None:
    r = scale["report"]
    print(f"== ingest of a repository ({scale['folders']} service folders, {scale['files']} files: README, "
          f"SAM, Terraform, serverless.yml, ASL, handlers, runbook, ADR; written in {scale['written_s']:.1f} s)")
    print(f"documents / chunks         {r['documents_changed']} / {r['chunks_added']} "
          f"({r['documents_skipped']} skipped)")
    print(f"`kb ingest` wall           {scale['wall_s']:.0f} s (pipeline {r['seconds']:.0f} s)")
    print(f"conversion                 {scale['convert_s']:.1f} s  {scale['convert_fps']:.0f} files/s "
          f"(reading + converting {r['load_seconds']:.1f} s, {scale['load_fps']:.0f} files/s; cleaning + "
          f"chunking {r['chunk_seconds']:.1f} s)")
    print(f"embedding                  {r['embed_seconds']:.0f} s  {r['chunks_added'] / r['embed_seconds']:.1f} "
          f"chunks/s; writing {r['write_seconds']:.1f} s")
    print(f"conversion / embedding     {scale['share']:.1%}   (target < 10%)")
    print(f"ratio pipeline/raw         {scale['pipeline_cps'] / scale['raw_cps']:.2f}   "
          f"({scale['pipeline_cps']:.1f} vs {scale['raw_cps']:.1f} chunks/s raw on a sample of {scale['sample']}; "
          "target >= 0.85)")
    print(f"peak RSS of `kb ingest`    {scale['peak_mb']:.0f} MB   (target < 2048 MB)")
    print(f"no-change re-ingest        {scale['noop_wall_s']:.2f} s wall, pipeline {scale['noop_s']:.2f} s, "
          f"peak {scale['noop_peak_mb']:.0f} MB   (target < 5 s)")


def repo_folders(args: list[str], default: int = 1000) -> int:
    """`--repo-folders N` from the command line (0 skips this section), else `default`; 0 when another
    section is asked for on its own (`--ingest-scale-only`, ...)."""
    if any(a.endswith("-only") and a != "--repo-scale-only" for a in args):
        return 0
    if "--repo-folders" not in args:
        return default
    after = args[args.index("--repo-folders") + 1 : args.index("--repo-folders") + 2]
    if not after or not after[0].isdigit():
        raise SystemExit(f"--repo-folders takes a number of folders (0 skips the section), not {after or 'nothing'}")
    return int(after[0])
