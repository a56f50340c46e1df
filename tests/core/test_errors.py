"""One exit-code table: the code's ExitCode, what each error exits with, and README's paragraph agree."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pytest

from app.cli import _one_line, main
from core import errors
from core.errors import EvalGateError, ExitCode, IndexError_, KBError
from tests.conftest import ROOT


def _readme_codes() -> set[int]:
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("Exit codes:"):readme.index("Every error is one line")]
    return {int(code) for code in re.findall(r"(?:^|[:,] )(\d+) (?=[a-z(])", paragraph.replace("\n", " "))}


def test_the_readme_lists_every_exit_code_and_no_other() -> None:
    assert _readme_codes() == {int(code) for code in ExitCode}


def test_every_error_exits_with_a_code_of_the_table() -> None:
    kinds = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, KBError)]
    assert len(kinds) >= 10
    assert all(isinstance(kind.exit_code, ExitCode) for kind in kinds)


def test_a_failed_eval_gate_exits_1_and_a_missing_index_2() -> None:
    assert _one_line(EvalGateError("1 eval gate(s) failed")) == ("1 eval gate(s) failed", 1)
    assert _one_line(IndexError_("no index"))[1] == ExitCode.BAD_INPUT == 2
    assert _one_line(RuntimeError("boom"))[1] == ExitCode.FAILED


def test_kb_stats_without_an_index_exits_2_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["kb", "stats", "--index", str(tmp_path / "none")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "run `kb ingest` first" in capsys.readouterr().err


def test_a_warning_raised_from_the_project_fails_the_tests() -> None:
    # pyproject's filterwarnings turns warnings from the project's modules (tests included) into errors.
    with pytest.raises(UserWarning):
        warnings.warn("from the project", UserWarning, stacklevel=1)
