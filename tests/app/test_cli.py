"""The `kb` command in-process (app.cli.main with its own argv): usage and environment errors are one
line and exit 2, KB_DEBUG shows the traceback. Commands that need a real process (an ingest, a server,
a crash) are tested with one in tests/ingest/test_cli.py and tests/chaos/."""

from __future__ import annotations

import sys

import pytest

from app.cli import main
from core.errors import SettingsError
from tests.conftest import ROOT


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["kb", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["ask", "--k", "0", "hi"], {}, "Invalid value for '--k'"),
    (["ask", "--bogus", "hi"], {}, "No such option: --bogus"),
    (["serve", "--port", "abc"], {}, "Invalid value for '--port'"),
    (["stats"], {"KB_PORT": "abc"}, "KB_PORT='abc'"),
    (["stats", "--index", "Makefile"], {}, "--index Makefile is a file"),
    (["ask", "--batch", "no-such-file.txt"], {}, "cannot read --batch no-such-file.txt"),
])
def test_usage_and_environment_errors_are_one_line_exit_2(args: list[str], env: dict[str, str], expected: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KB_DEBUG", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, stderr = run(args, monkeypatch, capsys)
    assert code == 2, stderr
    assert stderr.strip().count("\n") == 0 and expected in stderr, stderr
    assert "Traceback" not in stderr


def test_kb_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("KB_PORT", "abc")
    monkeypatch.setenv("KB_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["kb", "stats"])
    with pytest.raises(SettingsError, match="KB_PORT='abc'"):
        main()
