"""The generated repository corpus for the scale benchmark: every file becomes a document."""

from __future__ import annotations

from pathlib import Path

from evals.repo_corpus import FILES_PER_FOLDER, write_repo_corpus
from ingest.load import load_documents


def test_every_generated_file_is_a_distinct_document(tmp_path: Path) -> None:
    written = write_repo_corpus(tmp_path, folders=6)
    assert written == 6 * FILES_PER_FOLDER
    loaded = load_documents([tmp_path], 1_000_000)
    assert not loaded.skipped and not loaded.left_out, (loaded.skipped, loaded.left_out)
    assert len(loaded.documents) == written
    kinds = {(Path(d.source).name, d.kind) for d in loaded.documents}
    assert {("template.yaml", "code"), ("main.tf", "code"), ("workflow.asl.json", "code"),
            ("README.md", "other")} <= kinds
    assert len({d.content_hash for d in loaded.documents}) == written, "no two files are the same"
    assert write_repo_corpus(tmp_path / "again", folders=6) == written
    again = {d.source: d.content_hash for d in load_documents([tmp_path / "again"], 1_000_000).documents}
    assert again == {d.source: d.content_hash for d in loaded.documents}, "the same seed writes the same corpus"


def test_repo_folders_option() -> None:
    import pytest

    from evals.bench_repo import repo_folders

    assert repo_folders([]) == 1000 and repo_folders(["--repo-folders", "50"]) == 50
    assert repo_folders(["--repo-folders", "0"]) == 0
    assert repo_folders(["--ingest-scale-only"]) == 0 and repo_folders(["--repo-scale-only"]) == 1000
    with pytest.raises(SystemExit, match="--repo-folders takes a number"):
        repo_folders(["--repo-folders", "many"])
