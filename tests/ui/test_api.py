from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.chain import Bot
from ui.api import api_router
from ui.feedback import FeedbackStore

pytestmark = pytest.mark.integration
QUESTION = "How many times should a failed message be retried before the DLQ?"


def _client(bot: Bot, tmp_path: Path, **settings: object) -> tuple[TestClient, FeedbackStore]:
    original = bot.settings
    bot.settings = original.updated(**settings)
    try:
        store = FeedbackStore(tmp_path / "feedback.sqlite3")
        app = FastAPI()
        app.include_router(api_router(bot, store))
        return TestClient(app), store
    finally:
        bot.settings = original


def test_ask_returns_the_answer_contract_and_records_it(fixture_bot: Bot, tmp_path: Path) -> None:
    client, store = _client(fixture_bot, tmp_path)
    response = client.post("/api/ask", json={"question": QUESTION, "k": 4, "filters": {"provider": "aws"}})
    assert response.status_code == 200
    body = response.json()
    assert not body["abstained"] and body["citations"] and "[1]" in body["answer"]
    assert {"question", "answer", "mode", "templates", "disclaimer", "timings_ms", "id"} <= set(body)
    assert [i.id for i in store.items()] == [body["id"]] and store.items()[0].channel == "api"


def test_history_makes_follow_ups_work(fixture_bot: Bot, tmp_path: Path) -> None:
    client, _ = _client(fixture_bot, tmp_path)
    body = client.post("/api/ask", json={"question": "and on Azure?", "history": [QUESTION]}).json()
    assert "Service Bus" in body["answer"]


@pytest.mark.parametrize(("payload", "status", "message"), [
    ({"question": "   "}, 400, "empty"),
    ({"question": "x" * 2500}, 400, "2,000"),
    ({"question": "ok", "k": 0}, 422, "k"),
    ({"question": "ok", "filters": {"color": "red"}}, 422, "filters.color"),
    ({}, 422, "question"),
])
def test_bad_input_gets_a_clear_error(fixture_bot: Bot, tmp_path: Path, payload: dict[str, object], status: int,
                                      message: str) -> None:
    client, _ = _client(fixture_bot, tmp_path)
    response = client.post("/api/ask", json=payload)
    assert response.status_code == status and message in response.json()["error"]


def test_oversized_body_and_wrong_content_type(fixture_bot: Bot, tmp_path: Path) -> None:
    client, _ = _client(fixture_bot, tmp_path, max_body_bytes=2048)
    big = client.post("/api/ask", content=b'{"question": "' + b"a" * 5000 + b'"}',
                      headers={"content-type": "application/json"})
    assert big.status_code == 413 and "2,048-byte limit" in big.json()["error"]
    form = client.post("/api/ask", data={"question": QUESTION})
    assert form.status_code == 415 and "application/json" in form.json()["error"]
    broken = client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]


def test_bearer_token_when_configured(fixture_bot: Bot, tmp_path: Path) -> None:
    client, _ = _client(fixture_bot, tmp_path, api_token="s3cret")
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 401
    wrong = client.post("/api/ask", json={"question": QUESTION}, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.post("/api/ask", json={"question": QUESTION}, headers={"authorization": "Bearer s3cret"})
    assert right.status_code == 200


def test_health(fixture_bot: Bot, tmp_path: Path) -> None:
    client, _ = _client(fixture_bot, tmp_path)
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["documents"] >= 7 and body["templates"] >= 3
    assert body["model"] == fixture_bot.embedder.name and body["answerer"] == "extractive"
    assert body["dense_search"] == "snapshot"


def test_source_name_filter_keeps_to_a_source_and_an_unknown_name_is_refused(fixture_bot: Bot,
                                                                             tmp_path: Path) -> None:
    client, _ = _client(fixture_bot, tmp_path)
    kept = client.post("/api/ask", json={"question": QUESTION, "filters": {"source_name": "kb"}})
    assert kept.status_code == 200 and {c["source_name"] for c in kept.json()["citations"]} == {"kb"}
    wrong = client.post("/api/ask", json={"question": QUESTION, "filters": {"source_name": "wiki"}})
    assert wrong.status_code == 422
    assert wrong.json()["error"] == ("invalid request: filters.source_name: no source named 'wiki' in the index "
                                     "(it has: kb)")
