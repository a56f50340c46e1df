"""A full disk: ingest stops with one clear error (exit 4), the index stays readable, and the next
ingest after freeing space ends equal to a clean build. Needs a small tmpfs (root); skipped elsewhere."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chain import load_bot
from core.errors import DiskFullError
from ingest.index import IndexStore
from ingest.pipeline import ingest
from tests.chaos.conftest import hashing_settings
from tests.fakes import HashingEmbedder
from tests.ingest.test_pipeline import snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _big_document(folder: Path) -> None:
    sections = "\n\n".join(f"## Queue pattern {i}\n\nConsumer {i} reads batch {i} from queue {i} and retries "
                           f"message {i} with backoff {i} before dead-letter queue {i} takes it." for i in range(900))
    (folder / "big.md").write_text(f"# Many queues\n\n{sections}\n")


def test_ingest_on_a_full_disk_fails_cleanly_and_recovers(tmp_path: Path, tiny_disk: Path) -> None:
    settings = hashing_settings(tmp_path).model_copy(update={"index_dir": tiny_disk / "index"})
    ingest(settings, HashingEmbedder())
    served = load_bot(settings, HashingEmbedder())
    _big_document(settings.sources[0])
    with pytest.raises(DiskFullError, match=r"is full.*run `kb ingest` again") as caught:
        ingest(settings, HashingEmbedder())
    assert caught.value.exit_code == 4
    assert served.ask("How many times should a failed message be retried before the DLQ?").citations
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    ingest(settings, HashingEmbedder())
    clean = settings.model_copy(update={"index_dir": tmp_path / "clean"})
    ingest(clean, HashingEmbedder())
    assert snapshot(settings) == snapshot(clean)
    assert IndexStore.open(settings, "test:hashing").head().ready
