"""`make bench`: speed and memory figures with the ratios the targets are stated in.

Not a test: it prints numbers. Every ratio compares two measurements taken in the same run on
the same machine, so it means something on a slow CI box too.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import Settings
from evals.synthetic import build_index, rewrite_documents
from ingest.chunk import embed_text
from ingest.cli import make_embedder
from ingest.embed import SentenceTransformerEmbedder
from ingest.index import IndexStore
from ingest.pipeline import ingest

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


def run_ingest(settings: Settings, *sources: Path | str) -> tuple[dict[str, Any], float, float]:
    """A fresh `kb ingest --json` in its own process: its report, its peak RSS in MB and its wall seconds."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX_DIR": str(settings.index_dir),
           "KB_CHROMA_URL": settings.chroma_url}
    flags = [part for source in sources for part in ("--source", str(source))]
    started = time.perf_counter()
    process = subprocess.Popen([str(Path(sys.executable).parent / "kb"), "ingest", "--json", *flags], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"kb ingest {' '.join(flags)} exited with {process.returncode}")
    return json.loads(output), usage.ru_maxrss / 1024, wall


def embedded_texts(settings: Settings, embedder: Any) -> list[str]:
    """The texts the pipeline embedded, rebuilt from the index by the same function."""
    store = IndexStore.open(settings, embedder.name)
    try:
        chunks = store.chunks().get(include=["documents", "metadatas"])
    finally:
        store.close()
    documents: list[str] = chunks["documents"] or []
    metadatas: list[Any] = chunks["metadatas"] or []
    return [embed_text(meta["section"], meta["kind"], meta["language"], doc)
            for doc, meta in zip(documents, metadatas, strict=True)]


def raw_rate(embedder: Any, texts: list[str]) -> tuple[float, float]:
    """(seconds, chunks per second) for encoding these texts with the model alone."""
    started = time.perf_counter()
    embedder.embed(texts)
    took = time.perf_counter() - started
    return took, len(texts) / took


def bench_ingest(base: Settings, embedder: Any, work: Path) -> dict[str, Any]:
    settings = base.model_copy(update={"index_dir": work / "index"})
    report, peak_mb, _ = run_ingest(settings)
    embedder.warm_up()
    texts = embedded_texts(settings, embedder)
    raw_s, raw_cps = raw_rate(embedder, texts)
    torch_encoder = SentenceTransformerEmbedder(base.embedding_model, base.ingest.embed_batch_size)
    torch_encoder.warm_up()
    torch_s, torch_cps = raw_rate(torch_encoder, texts)
    noop = []
    for _ in range(3):
        started = time.perf_counter()
        again = ingest(settings, embedder)
        noop.append(time.perf_counter() - started)
        assert again.chunks_added == 0
    n = report["chunks_added"]
    return {"chunks": n, "documents": report["documents_changed"], "pipeline_s": report["seconds"], "raw_s": raw_s,
            "torch_s": torch_s, "torch_cps": torch_cps, "pipeline_cps": n / report["seconds"], "raw_cps": raw_cps,
            "noop_s": statistics.median(noop), "embed_s": report["embed_seconds"], "peak_mb": peak_mb,
            "settings": settings}


def bench_ingest_scale(base: Settings, embedder: Any, work: Path, chunks: int, per_copy: int,
                       sample: int = 2000) -> dict[str, Any]:
    """A fresh ingest of kb/ plus rewritten copies of it (at least `chunks` chunks, all embedded;
    kb/ gives `per_copy`), against raw encoding of a random sample of the same texts."""
    settings = base.model_copy(update={"index_dir": work / "scale-index"})
    kb_root = base.sources[0]
    copies = max(1, -(-(chunks - per_copy) // per_copy))
    rewrite_documents(kb_root, work / "copies", copies)
    report, peak_mb, _ = run_ingest(settings, kb_root, work / "copies")
    texts = embedded_texts(settings, embedder)
    picked = random.Random(11).sample(texts, min(sample, len(texts)))
    _, raw_cps = raw_rate(embedder, picked)
    n = report["chunks_added"]
    return {"chunks": n, "documents": report["documents_changed"], "pipeline_s": report["seconds"],
            "pipeline_cps": n / report["seconds"], "raw_cps": raw_cps, "sample": len(picked), "peak_mb": peak_mb,
            "embed_s": report["embed_seconds"]}


def bench_ask(indexes: dict[str, Settings], embedder: Any, rounds: int = 5) -> dict[str, dict[str, Any]]:
    """Warm `ask` on each index, interleaved round by round so load from other processes falls on
    all of them alike; with a bare encode + Chroma query on the same index as the baseline."""
    from bot.chain import load_bot

    bots, collections, stores, loads = {}, {}, [], {}
    for name, settings in indexes.items():
        started = time.perf_counter()
        bots[name] = load_bot(settings, embedder)
        loads[name] = time.perf_counter() - started
        for question in QUESTIONS:
            bots[name].ask(question)
        stores.append(IndexStore.open(settings, embedder.name))
        collections[name] = stores[-1].chunks()
    seen: dict[str, dict[str, list[float]]] = {name: {"total": [], "retrieve": [], "compose": [], "baseline": []}
                                               for name in indexes}
    for _ in range(rounds):
        for name, bot in bots.items():
            for question in QUESTIONS:
                answer = bot.ask(question)
                seen[name]["total"].append(answer.timings_ms.total)
                seen[name]["retrieve"].append(answer.timings_ms.retrieve)
                seen[name]["compose"].append(answer.timings_ms.compose)
                started = time.perf_counter()
                vector = embedder.embed([question])[0]
                collections[name].query(query_embeddings=[vector.tolist()],
                                        n_results=indexes[name].retrieve.candidates)
                seen[name]["baseline"].append((time.perf_counter() - started) * 1000)
    for store in stores:
        store.close()
    out = {}
    for name, figures in seen.items():
        out[name] = {f"{key}_{q}": _pct(values, level) for key, values in figures.items()
                     for q, level in (("p50", 0.5), ("p95", 0.95))}
        out[name].update(n=len(figures["total"]), chunks=len(bots[name].corpus or []), load_s=loads[name])
    return out


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


def serve_ready(settings: Settings) -> tuple[float, float]:
    """Seconds from starting `kb serve` until /api/health answers, and until the web UI does."""
    with kb_server(settings) as server:
        return server.api_ready, server.web_ready


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    api_ready: float  # seconds from its start until /api/health answered
    web_ready: float  # ...and until the web UI did (`/` is a 503 while Gradio is being built)

    def memory_mb(self) -> tuple[float, float]:
        """(resident now, peak resident) of the server process, from /proc."""
        status = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
                      if ":" in line)
        return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[Any], what: str, seconds: float = 120) -> None:
    """Poll `url` every 0.1 s until it answers; an error naming `what` if the process ends or time runs out."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def kb_server(settings: Settings) -> Iterator[Server]:
    """`kb serve` in its own process on a free loopback port, once its web UI is built too, so a load
    measures the steady state rather than Gradio's start."""
    started = time.perf_counter()
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX_DIR": str(settings.index_dir), "KB_PORT": str(port),
           "KB_CHROMA_URL": settings.chroma_url}
    server = subprocess.Popen([str(Path(sys.executable).parent / "kb"), "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/health", server, "kb serve")
        api_ready = time.perf_counter() - started
        wait_until_up(f"{url}/", server, "kb serve's web UI")
        yield Server(url, server.pid, api_ready, time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_load(url: str | list[str], clients: int = 16, seconds: float = 20.0) -> dict[str, Any]:
    """Concurrent /api/ask clients in a closed loop for a fixed time: answers, refusals (503) and
    how long every request took, answered or refused. Given several URLs (replicas), client n
    talks to URL n modulo their number, as a round-robin load balancer would spread them."""
    import threading

    import httpx

    answered: list[float] = []
    everything: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.monotonic() + seconds

    urls = [url] if isinstance(url, str) else url

    def client(offset: int) -> None:
        with httpx.Client(base_url=urls[offset % len(urls)], timeout=60) as http:
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
    with kb_server(Settings()) as server:
        print_load(bench_load(server.url, 16))
        print("   (target: p95 < 1000 ms with 16 clients)")
        print_load(bench_load(server.url, 64))
        print("   (target: the excess is refused with 503; no request waits over 2 s)")


def _option(name: str, default: int) -> int | None:
    """`--name N` from the command line: N, `default` for a bare `--name`, None when absent."""
    args = sys.argv[1:]
    if name not in args:
        return None
    after = args[args.index(name) + 1 : args.index(name) + 2]
    return int(after[0]) if after and after[0].isdigit() else default


def print_ingest(ing: dict[str, Any]) -> None:
    print("== ingest (kb/, fresh `kb ingest` in its own process)")
    print(f"chunks embedded            {ing['chunks']} from {ing['documents']} documents")
    print(f"pipeline                   {ing['pipeline_s']:.2f} s  {ing['pipeline_cps']:.1f} chunks/s "
          f"(embedding {ing['embed_s']:.2f} s)")
    print(f"raw encode, same texts     {ing['raw_s']:.2f} s  {ing['raw_cps']:.1f} chunks/s")
    print(f"torch encode, same texts   {ing['torch_s']:.2f} s  {ing['torch_cps']:.1f} chunks/s "
          f"(sentence-transformers; ratio onnx/torch {ing['raw_cps'] / ing['torch_cps']:.2f})")
    print(f"ratio pipeline/raw         {ing['pipeline_cps'] / ing['raw_cps']:.2f}   (target >= 0.85)")
    print(f"peak RSS of `kb ingest`    {ing['peak_mb']:.0f} MB")
    print(f"no-op re-ingest            {ing['noop_s']:.3f} s   (target < 1 s)")


def print_scale(scale: dict[str, Any]) -> None:
    print(f"== ingest at scale (kb/ + rewritten copies: {scale['chunks']} chunks embedded, "
          f"{scale['documents']} documents)")
    print(f"pipeline                   {scale['pipeline_s']:.0f} s  {scale['pipeline_cps']:.1f} chunks/s "
          f"(embedding {scale['embed_s']:.0f} s)")
    print(f"raw encode, same texts     {scale['raw_cps']:.1f} chunks/s (random sample of {scale['sample']})")
    print(f"ratio pipeline/raw         {scale['pipeline_cps'] / scale['raw_cps']:.2f}   (target >= 0.85)")
    print(f"peak RSS of `kb ingest`    {scale['peak_mb']:.0f} MB")


def print_ask(ask: dict[str, dict[str, Any]], small: str, large: str) -> None:
    """Chroma baseline: encoding the question plus one bare Chroma query on the same index."""
    a, b = ask[small], ask[large]
    print(f"== ask (warm, {a['n']} questions per index, interleaved)   {small} ({a['chunks']} chunks) | "
          f"{large} ({b['chunks']} chunks)")
    for label, key in (("total", "total"), ("  retrieve", "retrieve"), ("  compose", "compose"),
                       ("Chroma baseline", "baseline")):
        print(f"{label + ' p50/p95':<27}{a[key + '_p50']:.1f} / {a[key + '_p95']:.1f} ms | "
              f"{b[key + '_p50']:.1f} / {b[key + '_p95']:.1f} ms")
    print(f"ratio ask/baseline p50     {a['total_p50'] / a['baseline_p50']:.2f} | "
          f"{b['total_p50'] / b['baseline_p50']:.2f}   (target <= 2.5 on {small})")
    print(f"ratio p50 {large}/{small:<12}{b['total_p50'] / a['total_p50']:.2f}   (target <= 1.5)")
    print(f"snapshot load in-process   {a['load_s']:.2f} s | {b['load_s']:.2f} s")


def bench_serve_memory(settings: Settings, clients: int = 16,
                       seconds: float = 10.0) -> tuple[dict[str, Any], float, float]:
    """A short load on a fresh `kb serve`, then its resident memory: (load, RSS MB, peak RSS MB)."""
    with kb_server(settings) as server:
        load = bench_load(server.url, clients, seconds)
        rss, peak = server.memory_mb()
    return load, rss, peak


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "--load-only" in sys.argv[1:]:
        load_only()
        return
    total = _option("--total", 100_000) or 100_000
    scale_chunks = _option("--ingest-scale", 20_000)
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
        from evals.bench_replicas import bench_replicas, print_replicas

        if "--replicas-only" in sys.argv[1:]:
            print_replicas(bench_replicas(base, work, embedder))
            return
        # -- end of issue 10's section --
        if "--ingest-scale-only" in sys.argv[1:]:  # the long one (about 20 min on 2 cores), on its own
            report, _, _ = run_ingest(base.model_copy(update={"index_dir": work / "probe"}))
            print_scale(bench_ingest_scale(base, embedder, work, scale_chunks or 20_000, report["chunks_added"]))
            return
        ing = bench_ingest(base, embedder, work)
        print_ingest(ing)
        if scale_chunks:
            print_scale(bench_ingest_scale(base, embedder, work, scale_chunks, ing["chunks"]))
        kb = ing["settings"]
        started = time.perf_counter()
        big = build_index(kb, base.index_dir / "bench", total)
        large = f"{total // 1000}k"
        print(f"== synthetic corpus: {large} ({big.index_dir}, ready in {time.perf_counter() - started:.0f} s; "
              "built once per kb/ content)")
        print_ask(bench_ask({"kb/": kb, large: big}, embedder), "kb/", large)
        print("== cold start (new process, median of 3)")
        print(f"`kb ask --json` kb/        {bench_cold(kb, 'ask', QUESTIONS[0], '--json'):.2f} s   (target <= 1.5 s)")
        print(f"`kb ask --json` {large:<11}{bench_cold(big, 'ask', QUESTIONS[0], '--json'):.2f} s   "
              "(target <= 2.5 s)")
        print(f"`kb stats --json` kb/      {bench_cold(kb, 'stats', '--json'):.2f} s")
        for name, settings in (("kb/", kb), (large, big)):
            api, web = serve_ready(settings)
            print(f"`kb serve` ready {name:<10}{api:.2f} s API, {web:.2f} s web UI   (target <= 3 s for the API)")
        offenders = import_offenders(kb, "ask", QUESTIONS[0], "--json")
        print("import offenders (kb ask)  " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in offenders))
        with kb_server(kb) as server:
            print_load(bench_load(server.url, 16))
            print("   (target: p95 < 1000 ms with 16 clients)")
            print_load(bench_load(server.url, 64))
            print("   (target: the excess is refused with 503; no request waits over 2 s)")
            kb_rss = server.memory_mb()
        load, *big_rss = bench_serve_memory(big)
        print(f"== serve memory (RSS / peak RSS after 16 clients; {large}: {load['requests']} answers in "
              f"{load['seconds']:.0f} s, p50 {load['p50']:.0f} ms)")
        print(f"`kb serve` kb/             {kb_rss[0]:.0f} / {kb_rss[1]:.0f} MB   (target <= 1000 MB)")
        print(f"`kb serve` {large:<16}{big_rss[0]:.0f} / {big_rss[1]:.0f} MB   (target <= 1600 MB)")
        print_replicas(bench_replicas(base, work, embedder))
        print(f"peak memory (this process) {_peak_mb():.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
