"""Folders filled beside and renamed into place: a reader sees none or a whole one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.files import write_folder


def _fill(text: str) -> object:
    return lambda target: (target / "data.txt").write_text(text)


def test_a_folder_is_written_whole_and_an_existing_one_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot-a"
    write_folder(folder, _fill("first"), stale="snapshot-*")
    write_folder(folder, _fill("second"), stale="snapshot-*")
    assert (folder / "data.txt").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot-a"], "no partial or old copies left"


def test_a_failed_write_keeps_the_folder_there(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot-a"
    write_folder(folder, _fill("first"))

    def broken(target: Path) -> None:
        (target / "data.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_folder(folder, broken)
    assert (folder / "data.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot-a"]


def test_older_versions_beside_it_are_dropped(tmp_path: Path) -> None:
    write_folder(tmp_path / "snapshot-old", _fill("old"), stale="snapshot-*")
    write_folder(tmp_path / "snapshot-new", _fill("new"), stale="snapshot-*")
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot-new"]
