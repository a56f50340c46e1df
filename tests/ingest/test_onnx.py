"""The torch-free encoder: same vectors as sentence-transformers, a verified export, no torch on the query path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from core.settings import BUNDLED_MODEL, Settings
from ingest import onnx
from ingest.cli import make_embedder
from ingest.embed import SentenceTransformerEmbedder
from ingest.onnx import OnnxEmbedder
from ingest.pipeline import ingest
from tests.conftest import ROOT, fixture_settings

pytestmark = pytest.mark.integration
TEXTS = ["Which queue type keeps messages in order for one customer?",
         "Resources:\n  Topic:\n    Type: AWS::SNS::Topic",
         "A long paragraph about retries. " * 80]


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    return OnnxEmbedder(BUNDLED_MODEL, Settings(_env_file=None).model_cache_dir)  # type: ignore[call-arg]


def test_vectors_and_span_vectors_equal_the_torch_encoder(onnx_embedder: OnnxEmbedder,
                                                          bundled_embedder: SentenceTransformerEmbedder) -> None:
    got, expected = onnx_embedder.embed(TEXTS), bundled_embedder.embed(TEXTS)
    assert np.min(np.sum(got * expected, axis=1)) >= 0.9999
    spans = [[(0, 21), (22, 40)], [(0, 10)], [(0, 32), (33, 65)]]
    vectors, pooled = onnx_embedder.embed_with_spans(TEXTS, spans)
    torch_vectors, torch_pooled = bundled_embedder.embed_with_spans(TEXTS, spans)
    assert np.min(np.sum(vectors * torch_vectors, axis=1)) >= 0.9999
    for mine, theirs in zip(pooled, torch_pooled, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert (a is None) == (b is None) and (a is None or float(np.dot(a, b)) >= 0.9999)
    assert onnx_embedder.count_tokens(TEXTS) == bundled_embedder.count_tokens(TEXTS)


def test_the_export_is_recorded_as_verified(onnx_embedder: OnnxEmbedder) -> None:
    record = (onnx_embedder.folder / "export.json").read_text()
    assert '"min_cosine": 0.9999' in record or '"min_cosine": 1.0' in record
    assert f'"verified_texts": {len(onnx.VERIFY_TEXTS)}' in record and len(onnx.VERIFY_TEXTS) == 50


def test_an_export_that_does_not_reproduce_the_model_is_refused(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx, "MIN_COSINE", 1.5)  # no export can reach it
    with pytest.raises(ModelError, match="does not reproduce the model"):
        onnx.ensure_export(BUNDLED_MODEL, tmp_path)
    assert not any((tmp_path / "onnx").iterdir()), "no half-made export is left behind"


def test_the_backend_setting_chooses_the_encoder() -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(make_embedder(base), OnnxEmbedder)
    assert isinstance(make_embedder(base.model_copy(update={"embedding_backend": "torch"})),
                      SentenceTransformerEmbedder)


def test_kb_ask_never_imports_torch(tmp_path: Path, onnx_embedder: OnnxEmbedder) -> None:
    settings = fixture_settings(tmp_path)
    ingest(settings, onnx_embedder)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX_DIR": str(settings.index_dir),
           "KB_PERSONA": str(settings.persona)}
    result = subprocess.run([sys.executable, "-X", "importtime", str(Path(sys.executable).parent / "kb"), "ask",
                             "How many times should a failed message be retried before the DLQ?", "--json"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"citations"' in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    heavy = {m for m in imported if m.split(".")[0] in ("torch", "sentence_transformers", "transformers",
                                                          "gradio", "slack_bolt", "matplotlib", "ranx")}
    assert not heavy, sorted(heavy)[:10]
