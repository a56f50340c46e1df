"""A torch-free encoder: the configured sentence-transformers model, exported once to ONNX.

Importing torch and sentence-transformers costs seconds; a question needs one small forward
pass. So the model's transformer is exported once (this step uses torch) into a cache folder
keyed by the model's files, together with its tokenizer and pooling settings, and verified:
on VERIFY_TEXTS the exported encoder must give the same vectors as sentence-transformers
(cosine >= MIN_COSINE for every text) or the export is refused. After that, `kb ask`, `kb serve`
and the evals encode with onnxruntime and `tokenizers` alone.

The export is written to a temporary folder and renamed into place, so concurrent processes
never load half of one. Models whose pooling is not mean or CLS pooling are not exported;
they keep the sentence-transformers encoder.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ModelError
from ingest.embed import Span, Vectors, count_with, counting_tokenizer, pool_span, read_max_tokens, resolve_model, unit
from ingest.files import write_folder

EXPORT_VERSION = "1"
MIN_COSINE = 0.9999
_OPSET = 17
ATTENTION_BUDGET = 16 * 256 * 256  # rows x tokens² per batch: 16 texts at the 256-token limit
# Varied on purpose: short and long, code, prose, other languages, past the 256-token limit.
VERIFY_TEXTS = [
    "How do I send failed SQS messages to a dead-letter queue?",
    "What is a cold start?",
    "Terraform for a Pub/Sub dead-letter topic",
    "Give me a SAM template for an HTTP API with a Lambda authorizer.",
    "idempotency",
    "Step Functions Map state with a concurrency limit of 10",
    "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 60",
    "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}",
    "export const handler = async (event) => ({ statusCode: 200 });",
    'resource "aws_lambda_function" "api" {\n  runtime = "python3.12"\n}',
    "Cloud Functions gen2 runs on Cloud Run, so concurrency per instance can exceed one.",
    "Azure Functions on the Consumption plan scale to zero and bill per execution.",
    "Cloudflare Workers start in under five milliseconds because they run in V8 isolates.",
    "DynamoDB single-table design keys: PK=TENANT#123, SK=ORDER#2024-01-01",
    "EventBridge rules match events by pattern and fan them out to up to five targets.",
    "Provisioned concurrency keeps execution environments initialised ahead of traffic.",
    "The maximum Lambda timeout is 900 seconds.",
    "¿Cómo reduzco el arranque en frío de una función Lambda?",
    "Wie viele Wiederholungen sind sinnvoll, bevor eine Nachricht in die DLQ geht?",
    "サーバーレスのコールドスタートを減らすには",
    "p99 latency < 100 ms & throughput > 1,000 rps",
    "Use exponential backoff with full jitter: sleep = random(0, min(cap, base * 2 ** attempt)).",
    "API Gateway REST APIs support usage plans and API keys; HTTP APIs are cheaper and faster.",
    "Store secrets in Secrets Manager and cache them in the execution environment.",
    "Fan-out with SNS to several SQS queues, one per consumer.",
    "What does Powertools for AWS Lambda offer for structured logging?",
    "A",
    "!!!",
    "12345 67890",
    "kb ingest --source docs --rebuild",
    "The claim-check pattern stores a large payload in S3 and passes only its key through the queue.",
    "Use SQS FIFO queues when order matters within a message group; standard queues scale higher.",
    "Scheduled jobs: EventBridge Scheduler supports cron and rate expressions with time zones.",
    "Pre-signed URLs let clients upload straight to S3 without passing the bytes through Lambda.",
    "Long-running work belongs in Step Functions or a container task, not in one Lambda invocation.",
    "Multi-tenant isolation: per-tenant IAM roles, or row-level keys with a tenant prefix.",
    "Vercel and Netlify functions deploy from a git push and run on AWS Lambda underneath.",
    "What's the cheapest way to run a cron job?",
    "JWT authorizer on an HTTP API with Cognito user pools",
    "How should a table of limits be read?",
    "Reserved concurrency caps a function; it also guarantees that much capacity for it.",
    "X-Ray tracing and CloudWatch Embedded Metric Format for observability",
    "Tail sampling keeps every error trace and a share of the healthy ones.",
    "Cost: 1M requests at 128 MB and 100 ms cost about $0.41 per month on arm64.",
    "WebSocket APIs keep a connection table in DynamoDB keyed by connectionId.",
    "Retry policies on EventBridge targets: maximum age 24 hours, 185 attempts.",
    "Queue-based load leveling protects a database from bursts of traffic.",
    "The saga pattern undoes completed steps with compensating actions when a later step fails.",
    " ".join(["Serverless architectures trade control for operational simplicity and pay-per-use cost."] * 30),
    "\n".join(f"Line {i}: a step in a long runbook about deploying functions safely." for i in range(60)),
]


def model_key(name: str, path: str) -> str:
    """What identifies the model's files cheaply: its name, configs and the sizes of its weights."""
    root = Path(path)
    digest = hashlib.sha256(f"{EXPORT_VERSION}\0{name}\0{root.resolve()}".encode())
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md"):
        digest.update(f"\0{file.relative_to(root)}\0{file.stat().st_size}".encode())
        if file.suffix in (".json", ".txt") and file.stat().st_size < 2_000_000:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def export_folder(name: str, cache_dir: Path) -> Path:
    return cache_dir / "onnx" / model_key(name, resolve_model(name))


def ensure_export(name: str, cache_dir: Path) -> Path:
    """The verified export of this model, made now if there is none (which imports torch)."""
    folder = export_folder(name, cache_dir)
    if (folder / "export.json").is_file():
        return folder
    write_folder(folder, lambda target: _export(name, target))
    return folder


def _export(name: str, target: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    path = resolve_model(name)
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    pooling = _pooling(model)
    transformer: Any = model[0].auto_model
    transformer.eval()
    tokenizer = model.tokenizer
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["an example", "a slightly longer example sentence"], padding=True, return_tensors="pt")

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = transformer

        def forward(self, *tensors: Any) -> Any:
            return self.model(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in [*inputs, "last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow; verified below
        torch.onnx.export(LastHiddenState(), tuple(sample[n] for n in inputs), str(target / "model.onnx"),
                          input_names=inputs, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=_OPSET, dynamo=False)
    tokenizer.backend_tokenizer.save(str(target / "tokenizer.json"))
    meta = {"model": name, "export_version": EXPORT_VERSION, "inputs": inputs, "pooling": pooling,
            "normalize": any(type(m).__name__ == "Normalize" for m in model),
            "max_tokens": int(model.max_seq_length or 512), "dimension": int(model.get_embedding_dimension() or 0),
            "pad_id": int(tokenizer.pad_token_id or 0), "pad_token": str(tokenizer.pad_token or "[PAD]")}
    (target / "meta.json").write_text(json.dumps(meta, indent=2))
    reference = model.encode(VERIFY_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxEmbedder(name, target.parent, folder=target).embed(VERIFY_TEXTS)
    cosines = np.sum(unit_rows(reference) * unit_rows(got), axis=1)
    worst = int(np.argmin(cosines))
    if cosines[worst] < MIN_COSINE:
        raise ModelError(f"the ONNX export of {name!r} does not reproduce the model (cosine {cosines[worst]:.6f} "
                         f"< {MIN_COSINE} on {VERIFY_TEXTS[worst][:40]!r}); the index was not changed")
    # export.json is written last: its presence is what marks an export as complete and verified.
    (target / "export.json").write_text(json.dumps({**meta, "min_cosine": float(cosines.min()),
                                                    "verified_texts": len(VERIFY_TEXTS)}, indent=2))


def _pooling(model: Any) -> str:
    pooling = model[1] if len(model) > 1 else None
    mode = getattr(pooling, "pooling_mode", None) or ("mean" if pooling is not None else "")
    if mode not in ("mean", "cls"):
        raise ModelError(f"models with {mode or 'no'} pooling are not exported to ONNX; the model is used through "
                         "sentence-transformers instead")
    return str(mode)


def unit_rows(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def onnx_supported(name: str) -> bool:
    """Whether the model's own files say it pools by mean or CLS (what the export reproduces)."""
    root = Path(resolve_model(name))
    modules = root / "modules.json"
    if not modules.is_file():
        return False
    for module in json.loads(modules.read_text()):
        if str(module.get("type", "")).endswith(".Pooling"):
            config = json.loads((root / module.get("path", "") / "config.json").read_text())
            return bool(config.get("pooling_mode_mean_tokens") or config.get("pooling_mode_cls_token")) and not any(
                config.get(k) for k in ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
    return False


class OnnxEmbedder:
    """The Embedder protocol with onnxruntime and `tokenizers`, no torch. Nothing is loaded until
    needed: counting tokens reads only the tokenizer, and the export is made on first use if the
    cache has none."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = 64, folder: Path | None = None) -> None:
        self.name = name
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self._folder = folder
        self._path = resolve_model(name)
        self.max_tokens = read_max_tokens(self._path)
        self._session: Any = None
        self._counter: Any = None
        self._meta: dict[str, Any] | None = None

    @property
    def folder(self) -> Path:
        if self._folder is None:
            self._folder = ensure_export(self.name, self.cache_dir)
        return self._folder

    def _load(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(self.folder / "model.onnx"), options,
                                                     providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.enable_padding(pad_id=int(self.meta["pad_id"]), pad_token=str(self.meta["pad_token"]))

    @property
    def session(self) -> Any:
        if self._session is None:
            self._load()
        return self._session

    def warm_up(self) -> None:
        self.embed(["warm up"])

    @property
    def meta(self) -> dict[str, Any]:
        """What the export recorded: inputs, pooling, limits, padding."""
        if self._meta is None:
            self._meta = json.loads((self.folder / "meta.json").read_text())
        return self._meta

    @property
    def dimension(self) -> int:
        return int(self.meta["dimension"])

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts including the special tokens, untruncated; needs only the model's tokenizer."""
        if self._counter is None:
            own = Path(self._path) / "tokenizer.json"
            self._counter = counting_tokenizer(own if own.is_file() else self.folder / "tokenizer.json")
        return count_with(self._counter, texts)

    def _hidden(self, texts: list[str]) -> tuple[npt.NDArray[np.float32], list[Any]]:
        session = self.session
        encodings = self._tokenizer.encode_batch(texts)
        feed = {"input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = session.run(None, {name: feed[name] for name in self.meta["inputs"]})[0]
        return np.asarray(hidden, dtype=np.float32), encodings

    def _batches(self, texts: list[str]) -> list[list[int]]:
        """Longest first, like SentenceTransformer.encode: similar lengths share a batch, less padding.
        A batch's attention scores grow with rows x tokens², so long texts go fewer to a batch: 64
        full-length texts made a fresh ingest peak at 2.1 GB, and 16 encode as fast (`make bench`)."""
        if len(texts) <= 1:
            return [list(range(len(texts)))]
        lengths = [max(1, min(n, self.max_tokens)) for n in self.count_tokens(texts)]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        batches, start = [], 0
        while start < len(order):
            rows = max(1, min(self.batch_size, ATTENTION_BUDGET // lengths[order[start]] ** 2))
            batches.append(order[start : start + rows])
            start += rows
        return batches

    def _pooled(self, hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.float32]) -> Vectors:
        if self.meta["pooling"] == "cls":
            vectors = hidden[:, 0, :]
        else:
            vectors = (hidden * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return unit_rows(vectors) if self.meta["normalize"] else vectors.astype(np.float32)

    def embed(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for rows in self._batches(texts):
            hidden, encodings = self._hidden([texts[i] for i in rows])
            mask = np.asarray([e.attention_mask for e in encodings], dtype=np.float32)
            out[rows] = self._pooled(hidden, mask)
        return out

    def embed_with_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[Vectors, list[list[Vectors | None]]]:
        """The same contract as the sentence-transformers encoder: a span pools its own tokens."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors: list[list[Vectors | None]] = [[] for _ in texts]
        for rows in self._batches(texts):
            hidden, encodings = self._hidden([texts[i] for i in rows])
            for position, row in enumerate(rows):
                length = int(sum(encodings[position].attention_mask))
                matrix = hidden[position, :length]
                vectors[row] = unit(matrix.mean(axis=0))
                offsets = np.asarray(encodings[position].offsets[:length], dtype=np.int64).reshape(-1, 2)
                span_vectors[row] = [pool_span(matrix, offsets, span) for span in spans[row]] if spans else []
        return vectors, span_vectors


if __name__ == "__main__":  # `make install`: export the configured model once, so no command waits for it
    from core.settings import Settings

    settings = Settings()
    if settings.embedding_backend == "onnx" and onnx_supported(settings.embedding_model):
        folder = ensure_export(settings.embedding_model, settings.model_cache_dir)
        print(f"ONNX export of {settings.embedding_model}: {folder}")
