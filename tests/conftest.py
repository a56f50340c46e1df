"""Shared fixtures: no network beyond loopback, settings in temp folders, small embedders."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.fakes import HashingEmbedder

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = ROOT.parent / "shared" / "seeds"
_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond this machine fails at once instead of hanging or leaking."""

    def guarded(sock: socket.socket, address: object) -> object:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"tests may not connect to {address!r}")
        return _real_connect(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    kb = tmp_path / "kb"
    kb.mkdir()
    return Settings(sources=[kb], index_dir=tmp_path / "index", exclude_rules=ROOT / "kb" / "exclude.yaml",
                    embedding_model="test:hashing", max_chunk_tokens=64, target_chunk_tokens=48,
                    _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def bundled_embedder() -> Iterator[object]:
    from ingest.embed import SentenceTransformerEmbedder

    yield SentenceTransformerEmbedder()


@pytest.fixture
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is absent")
    return SEEDS


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory, bundled_embedder: object) -> tuple[Settings, object]:
    """The five reference documents, copied and ingested once with the bundled model."""
    from ingest.pipeline import ingest

    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is absent")
    base = tmp_path_factory.mktemp("seeds")
    copy = base / "seeds"
    shutil.copytree(SEEDS, copy)
    for path in copy.iterdir():
        path.chmod(0o644)
    settings = Settings(sources=[copy], index_dir=base / "index", exclude_rules=ROOT / "kb" / "exclude.yaml",
                        _env_file=None)  # type: ignore[call-arg]
    report = ingest(settings, bundled_embedder)  # type: ignore[arg-type]
    return settings, report


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, stopped after the session."""
    from evals.bench_replicas import chroma_server as running

    with running(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


KB_FIXTURE = FIXTURES / "kb"


def fixture_settings(base: Path) -> Settings:
    """Settings over a copy of the small knowledge base written for the tests."""
    shutil.copytree(KB_FIXTURE, base / "kb")
    return Settings(sources=[base / "kb"], index_dir=base / "index", exclude_rules=ROOT / "kb" / "exclude.yaml",
                    persona=base / "kb" / "personas" / "test-persona.md", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def fixture_bot(tmp_path_factory: pytest.TempPathFactory, bundled_embedder: object) -> object:
    """The small test knowledge base, ingested with the bundled model, behind a warm Bot."""
    from bot.chain import load_bot
    from ingest.pipeline import ingest

    settings = fixture_settings(tmp_path_factory.mktemp("fixture-kb"))
    ingest(settings, bundled_embedder)  # type: ignore[arg-type]
    return load_bot(settings, bundled_embedder)  # type: ignore[arg-type]
