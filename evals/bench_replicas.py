"""`make bench`, beyond one process: `kb serve` replicas behind one Chroma server.

A real `chroma run` on loopback holds the index; `kb ingest` writes `kb/` into it; then one and two
`kb serve` replicas (sharing one index folder for their saved snapshots) take the same closed-loop
load of 16 clients, spread round-robin over the replicas. Prints throughput and latency for both,
their ratio, and how fast the second replica is ready (it maps the snapshot the first one saved
instead of pulling every chunk from the server). Figures, not assertions; loopback only.

The replicas search dense vectors on the server (`bot.server_dense`); the section also times that
search in process against the exact search over the snapshot's vectors, and how many of the
server's candidates the exact search also ranks (HNSW is approximate).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.persona import load_persona
from bot.retrieve import Filters, HybridRetriever
from bot.snapshot import load_snapshot
from core.settings import Settings
from evals.bench import QUESTIONS, bench_load, free_port, kb_server, run_ingest, wait_until_up
from ingest.embed import Embedder


@contextlib.contextmanager
def chroma_server(folder: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port with its data and log under `folder`, stopped on exit (the
    test suite's Chroma server too)."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "server.log").open("w") as log:
        process = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(folder / "db"),
                                    "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/api/v2/heartbeat", process, f"chroma run (see {folder / 'server.log'})", 60)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def bench_dense(settings: Settings, embedder: Embedder, repeats: int = 5) -> dict[str, float]:
    """Median ms of one dense search on the server and over the snapshot, and their top-n overlap."""
    snapshot = load_snapshot(settings, embedder, load_persona(settings.persona))
    retrievers = {"server": snapshot.retriever, "exact": HybridRetriever(snapshot.corpus, embedder, settings.retrieve)}
    n = settings.retrieve.candidates
    times: dict[str, list[float]] = {name: [] for name in retrievers}
    overlap = []
    for question in QUESTIONS:
        vector = retrievers["exact"].embed_query(question)
        found: dict[str, set[int]] = {}
        for name, retriever in retrievers.items():
            for _ in range(repeats):
                started = time.perf_counter()
                rows = retriever.dense(vector, n, Filters())
                times[name].append((time.perf_counter() - started) * 1000)
            found[name] = {row for row, _ in rows}
        overlap.append(len(found["server"] & found["exact"]) / max(len(found["exact"]), 1))
    server = snapshot.retriever.server
    if server is None or server.error:
        raise RuntimeError(f"dense search did not run on the server: {server.error if server else 'turned off'}")
    return {"server_ms": statistics.median(times["server"]), "exact_ms": statistics.median(times["exact"]),
            "overlap": statistics.mean(overlap), "n": n}


def bench_replicas(base: Settings, work: Path, embedder: Embedder, clients: int = 16,
                   seconds: float = 20.0) -> dict[str, Any]:
    with chroma_server(work / "chroma") as url:
        settings = base.model_copy(update={"index_dir": work / "replica-index", "chroma_url": url})
        report, _, ingest_s = run_ingest(settings)
        dense = bench_dense(settings, embedder)
        with kb_server(settings) as first:
            one = bench_load(first.url, clients, seconds)
            with kb_server(settings) as second:
                two = bench_load([first.url, second.url], clients, seconds)
                memory = [first.memory_mb()[0], second.memory_mb()[0]]
    # Ready when the API answers: a load balancer may send it work from then on.
    return {"chunks": report["chunks_added"], "ingest_s": ingest_s, "first_ready": first.api_ready,
            "second_ready": second.api_ready, "one": one, "two": two, "rss_mb": memory, "clients": clients,
            "dense": dense}


def print_replicas(result: dict[str, Any]) -> None:
    one, two = result["one"], result["two"]
    print(f"== replicas: one Chroma server (`chroma run`, loopback), kb/ ingested into it "
          f"({result['chunks']} chunks, {result['ingest_s']:.0f} s)")
    print(f"first replica ready        {result['first_ready']:.2f} s   (pulls the corpus from the server, saves it)")
    print(f"second replica ready       {result['second_ready']:.2f} s   (maps the snapshot the first one saved)")
    for name, load in (("1 replica ", one), ("2 replicas", two)):
        print(f"{name} x {result['clients']} clients   {load['rps']:.1f} answers/s, p50 {load['p50']:.0f} ms, "
              f"p95 {load['p95']:.0f} ms, refused {load['statuses'].get(503, 0)}")
    print(f"throughput ratio 2 : 1     {two['rps'] / max(one['rps'], 1e-9):.2f}   ({os.cpu_count()} cores here; one "
          "replica already spreads its answers over them (onnxruntime and numpy threads), so replicas pay "
          "off with more cores or machines)")
    print(f"replica RSS                {result['rss_mb'][0]:.0f} MB, {result['rss_mb'][1]:.0f} MB")
    dense = result["dense"]
    print(f"dense search, n={dense['n']:<11}server {dense['server_ms']:.1f} ms, snapshot (exact) "
          f"{dense['exact_ms']:.1f} ms, median; {dense['overlap']:.0%} of the exact top {dense['n']} found by the "
          "server (HNSW)")
