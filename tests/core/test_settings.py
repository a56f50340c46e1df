"""Settings: one root of per-area sections, and every documented variable name still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SettingsError
from core.settings import Settings, build_settings


@pytest.fixture(autouse=True)
def _no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout


def test_flat_names_reach_their_section(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"KB_MAX_CHUNK_TOKENS": "128", "KB_PORT": "9000", "KB_CORS_ORIGINS": "https://a,https://b",
                        "KB_LLM": "openai:gpt-4o-mini", "SLACK_BOT_TOKEN": "xoxb-1", "KB_SLACK_SIGNING_SECRET": "s",
                        "KB_SLACK_MAX_BODY_BYTES": "4096", "KB_RETRIEVE__K": "4", "KB_ANSWER__LLM_TIMEOUT": "7",
                        "KB_SERVE__HOST": "0.0.0.0"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.ingest.max_chunk_tokens == 128 and settings.serve.port == 9000
    assert settings.serve.cors_origins == ["https://a", "https://b"] and settings.serve.host == "0.0.0.0"
    assert (settings.llm.model, settings.llm.timeout) == ("openai:gpt-4o-mini", 7)
    assert (settings.slack.bot_token, settings.slack.signing_secret, settings.slack.max_body_bytes) == ("xoxb-1", "s",
                                                                                                        4096)
    assert settings.retrieve.k == 4


def test_a_flat_keyword_and_a_copy_with_a_flat_name() -> None:
    settings = Settings(max_chunk_tokens=64, host="::1", llm="ollama:llama3.1")
    assert (settings.ingest.max_chunk_tokens, settings.serve.host, settings.llm.model) == (64, "::1", "ollama:llama3.1")
    copied = settings.updated(port=8000, slack_bot_token="t", index_dir=Path("x"))
    assert (copied.serve.port, copied.serve.host, copied.slack.bot_token, copied.index_dir) == (8000, "::1", "t",
                                                                                                 Path("x"))


def test_a_bad_value_names_the_variable_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_PORT", "abc")
    with pytest.raises(SettingsError, match=r"^KB_PORT='abc'"):
        build_settings()
    monkeypatch.delenv("KB_PORT")
    monkeypatch.setenv("KB_RETRIEVE__K", "0")
    with pytest.raises(SettingsError, match=r"^KB_RETRIEVE__K='0'"):
        build_settings()
    monkeypatch.delenv("KB_RETRIEVE__K")
    assert build_settings(port=8123, host=None).serve.port == 8123


def test_include_and_exclude_globs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EXCLUDE", "docs/archive/**, *.draft.md")
    monkeypatch.setenv("KB_INCLUDE", "docs/**")
    settings = Settings()
    assert settings.ingest.exclude == ["docs/archive/**", "*.draft.md"] and settings.ingest.include == ["docs/**"]
    assert build_settings(include=["*.tf"]).ingest.include == ["*.tf"], "a flag wins over the environment"
