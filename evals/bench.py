"""`make bench`: speed and memory figures with the ratios the targets are stated in.

Not a test: it prints numbers. Every ratio compares two measurements taken in the same run on
the same machine, so it means something on a slow CI box too.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.chunk import embed_text
from ingest.cli import make_embedder
from ingest.embed import SentenceTransformerEmbedder
from ingest.index import IndexStore
from ingest.pipeline import ingest
from ingest.settings import Settings

QUESTIONS = [
    "How do I reduce Lambda cold starts for a Java function?",
    "How should I retry calls to a flaky downstream API?",
    "Show me a SAM template for an SQS queue with a dead-letter queue",
    "When should I use Step Functions instead of chaining Lambda functions?",
    "How do I design a DynamoDB single-table schema?",
    "What does provisioned concurrency cost?",
    "How do I keep secrets out of Lambda environment variables?",
    "Terraform for a Pub/Sub topic with a dead-letter topic",
    "How do I make an SQS consumer idempotent?",
    "How do I alarm on a growing queue backlog?",
    "Is serverless cheaper than containers at steady high traffic?",
    "How do I run a canary deployment for a Lambda function?",
]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_ingest(base: Settings, embedder: Any, work: Path) -> dict[str, Any]:
    settings = base.model_copy(update={"index_dir": work / "index"})
    embedder.warm_up()
    started = time.perf_counter()
    report = ingest(settings, embedder)
    pipeline_s = time.perf_counter() - started
    chunks = IndexStore.open(settings, embedder.name).chunks().get(include=["documents", "metadatas"])
    # The same texts the pipeline embedded, built by the same function.
    documents: list[str] = chunks["documents"] or []
    metadatas: list[Any] = chunks["metadatas"] or []
    texts = [embed_text(meta["section"], meta["kind"], meta["language"], doc)
             for doc, meta in zip(documents, metadatas, strict=True)]
    started = time.perf_counter()
    embedder.embed(texts)
    raw_s = time.perf_counter() - started
    torch_encoder = SentenceTransformerEmbedder(base.embedding_model, base.embed_batch_size)
    torch_encoder.warm_up()
    started = time.perf_counter()
    torch_encoder.embed(texts)
    torch_s = time.perf_counter() - started
    noop = []
    for _ in range(3):
        started = time.perf_counter()
        again = ingest(settings, embedder)
        noop.append(time.perf_counter() - started)
        assert again.chunks_added == 0
    n = report.chunks_added
    return {"chunks": n, "documents": report.documents_changed, "pipeline_s": pipeline_s, "raw_s": raw_s,
            "torch_s": torch_s, "torch_cps": len(texts) / torch_s,
            "pipeline_cps": n / pipeline_s, "raw_cps": len(texts) / raw_s, "noop_s": statistics.median(noop),
            "embed_s": report.embed_seconds, "settings": settings}


def bench_ask(settings: Settings, embedder: Any, rounds: int = 5) -> dict[str, Any]:
    from bot.chain import load_bot

    bot = load_bot(settings, embedder)
    for question in QUESTIONS:
        bot.ask(question)
    totals, retrieves, composes, baseline = [], [], [], []
    store = IndexStore.open(settings, embedder.name)
    collection = store.chunks()  # the baseline: a bare Chroma query for the same question
    for _ in range(rounds):
        for question in QUESTIONS:
            answer = bot.ask(question)
            totals.append(answer.timings_ms.total)
            retrieves.append(answer.timings_ms.retrieve)
            composes.append(answer.timings_ms.compose)
            started = time.perf_counter()
            vector = embedder.embed([question])[0]
            collection.query(query_embeddings=[vector.tolist()], n_results=settings.retrieve.candidates)
            baseline.append((time.perf_counter() - started) * 1000)
    return {"p50": _pct(totals, 0.5), "p95": _pct(totals, 0.95), "retrieve_p50": _pct(retrieves, 0.5),
            "retrieve_p95": _pct(retrieves, 0.95), "compose_p50": _pct(composes, 0.5),
            "compose_p95": _pct(composes, 0.95), "baseline_p50": _pct(baseline, 0.5),
            "baseline_p95": _pct(baseline, 0.95), "n": len(totals)}


def bench_cold(settings: Settings, *args: str, runs: int = 3) -> float:
    """Median wall time of a new `kb` process (the OS file cache is warm after the first run)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX_DIR": str(settings.index_dir)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "kb"), *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def import_offenders(settings: Settings, *args: str, top: int = 6) -> list[tuple[str, float]]:
    """The modules whose imports (with their own imports) cost a `kb` command the most, first level only."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX_DIR": str(settings.index_dir)}
    result = subprocess.run([sys.executable, "-X", "importtime", str(Path(sys.executable).parent / "kb"), *args],
                            env=env, capture_output=True, text=True, check=True)
    found = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and len(name) - len(name.lstrip(" ")) == 1:  # top level only
                found.append((name.strip(), int(cumulative) / 1000))
    return sorted(found, key=lambda item: -item[1])[:top]


def serve_ready(settings: Settings) -> float:
    started = time.perf_counter()
    with kb_server(settings):
        return time.perf_counter() - started


@contextlib.contextmanager
def kb_server(settings: Settings) -> Iterator[str]:
    """`kb serve` in its own process on a free loopback port; yields its URL."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX_DIR": str(settings.index_dir), "KB_PORT": str(port)}
    server = subprocess.Popen([str(Path(sys.executable).parent / "kb"), "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("kb serve did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_load(url: str, clients: int = 16, seconds: float = 20.0) -> dict[str, Any]:
    """Concurrent /api/ask clients in a closed loop for a fixed time: answers, refusals (503) and
    how long every request took, answered or refused."""
    import threading

    import httpx

    answered: list[float] = []
    everything: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            i = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = http.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                took = (time.perf_counter() - started) * 1000
                everything.append(took)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    answered.append(took)
                elif response.status_code == 503:
                    time.sleep(float(response.headers.get("retry-after", "1")))  # as a polite client does
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"requests": len(answered), "statuses": statuses, "rps": len(answered) / elapsed,
            "p50": _pct(answered, 0.5), "p95": _pct(answered, 0.95), "slowest": max(everything, default=0.0),
            "clients": clients, "seconds": elapsed}


def print_load(load: dict[str, Any]) -> None:
    refused = load["statuses"].get(503, 0)
    other = sum(n for code, n in load["statuses"].items() if code not in (200, 503))
    print(f"== load: {load['clients']} concurrent /api/ask clients, {load['seconds']:.0f} s, loopback")
    print(f"throughput                 {load['rps']:.1f} answers/s ({load['requests']} answers)")
    print(f"answered p50 / p95         {load['p50']:.0f} / {load['p95']:.0f} ms")
    print(f"refused (503, Retry-After) {refused}")
    print(f"slowest request            {load['slowest']:.0f} ms   (target <= 2000)")
    print(f"other errors               {other}   (target 0)")


def load_only() -> None:
    """`make chaos`: the load figures against the index `make ingest` built."""
    with kb_server(Settings()) as url:
        print_load(bench_load(url, 16))
        print("   (target: p95 < 1000 ms with 16 clients)")
        print_load(bench_load(url, 64))
        print("   (target: the excess is refused with 503; no request waits over 2 s)")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "--load-only" in sys.argv[1:]:
        load_only()
        return
    base = Settings()
    embedder = make_embedder(base)
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        # -- issue 10: a repository of service folders, see evals.bench_repo (--repo-folders N, 0: skip) --
        from evals.bench_repo import bench_repo_scale, print_repo_scale, repo_folders

        if folders := repo_folders(sys.argv[1:]):
            print_repo_scale(bench_repo_scale(base, embedder, work, folders))
        if "--repo-scale-only" in sys.argv[1:]:
            return
        # -- end of issue 10's section --
        ing = bench_ingest(base, embedder, work)
        print("== ingest (kb/, fresh index, model already loaded)")
        print(f"chunks embedded            {ing['chunks']} from {ing['documents']} documents")
        print(f"pipeline                   {ing['pipeline_s']:.2f} s  {ing['pipeline_cps']:.1f} chunks/s "
              f"(embedding {ing['embed_s']:.2f} s)")
        print(f"raw encode, same texts     {ing['raw_s']:.2f} s  {ing['raw_cps']:.1f} chunks/s "
              f"({type(embedder).__name__})")
        print(f"torch encode, same texts   {ing['torch_s']:.2f} s  {ing['torch_cps']:.1f} chunks/s "
              f"(sentence-transformers; ratio onnx/torch {ing['raw_cps'] / ing['torch_cps']:.2f})")
        print(f"ratio pipeline/raw         {ing['pipeline_cps'] / ing['raw_cps']:.2f}   (target >= 0.85)")
        print(f"no-op re-ingest            {ing['noop_s']:.3f} s   (target < 1 s)")
        ask = bench_ask(ing["settings"], embedder)
        print(f"== ask (warm, {ask['n']} questions)")
        print(f"total p50 / p95            {ask['p50']:.1f} / {ask['p95']:.1f} ms   (targets 40 / 80)")
        print(f"  retrieve p50 / p95       {ask['retrieve_p50']:.1f} / {ask['retrieve_p95']:.1f} ms")
        print(f"  compose p50 / p95        {ask['compose_p50']:.1f} / {ask['compose_p95']:.1f} ms")
        print(f"encode + 1 Chroma query    {ask['baseline_p50']:.1f} / {ask['baseline_p95']:.1f} ms")
        print(f"ratio ask/baseline p50     {ask['p50'] / ask['baseline_p50']:.2f}   (target <= 2.5)")
        print("== cold start (new process, median of 3)")
        print(f"`kb ask --json`            {bench_cold(ing['settings'], 'ask', QUESTIONS[0], '--json'):.2f} s"
              "   (target <= 1.5 s)")
        print(f"`kb stats --json`          {bench_cold(ing['settings'], 'stats', '--json'):.2f} s")
        print(f"`kb serve` ready           {serve_ready(ing['settings']):.2f} s   (target <= 3 s)")
        offenders = import_offenders(ing["settings"], "ask", QUESTIONS[0], "--json")
        print("import offenders (kb ask)  " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in offenders))
        with kb_server(ing["settings"]) as url:
            print_load(bench_load(url, 16))
            print("   (target: p95 < 1000 ms with 16 clients)")
            print_load(bench_load(url, 64))
            print("   (target: the excess is refused with 503; no request waits over 2 s)")
        print(f"peak memory (this process) {_peak_mb():.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
