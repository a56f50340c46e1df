"""Secure defaults of the whole app: headers, CORS off unless configured, login throttling, auth on
health and docs, the Bearer scheme, bounded JSON nesting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.chain import Bot
from ui.feedback import FeedbackStore
from ui.server import build_app

pytestmark = pytest.mark.integration
QUESTION = "How do I keep latency-sensitive functions warm?"


@pytest.fixture
def make_client(fixture_bot: Bot, tmp_path: Path) -> Iterator[object]:
    original = fixture_bot.settings

    def make(**settings: object) -> TestClient:
        fixture_bot.settings = original.updated(**settings)
        return TestClient(build_app(fixture_bot, FeedbackStore(tmp_path / "f.sqlite3")))

    yield make
    fixture_bot.settings = original


def test_every_response_carries_the_security_headers(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for path in ("/", "/api/health"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_no_cross_origin_access_unless_configured(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for path in ("/", "/api/health", "/config"):
        response = client.get(path, headers={"Origin": "http://localhost:9999"})
        assert "access-control-allow-origin" not in response.headers, path
    allowed = make_client(cors_origins=["https://docs.example"])
    ok = allowed.get("/api/health", headers={"Origin": "https://docs.example"})
    assert ok.headers["access-control-allow-origin"] == "https://docs.example"
    other = allowed.get("/api/health", headers={"Origin": "http://localhost:9999"})
    assert "access-control-allow-origin" not in other.headers


def test_failed_logins_are_throttled(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ui_auth="admin:correct-horse")
    codes = [client.post("/login", data={"username": "admin", "password": f"guess{i}"}).status_code
             for i in range(7)]
    assert all(c in (400, 401) for c in codes[:5]), codes
    assert codes[5:] == [429, 429], codes
    assert int(client.post("/login", data={"username": "admin", "password": "x"}).headers["retry-after"]) > 0


def test_with_a_token_health_shows_only_status_and_docs_are_private(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(api_token="s3cret")
    assert client.get("/api/health").json() == {"status": "ok"}
    full = client.get("/api/health", headers={"Authorization": "Bearer s3cret"}).json()
    assert full["documents"] >= 7 and "index" in full
    assert client.get("/api/docs").status_code == 404 and client.get("/api/openapi.json").status_code == 404
    assert make_client().get("/api/openapi.json").status_code == 200, "public without auth"


def test_the_bearer_scheme_is_required(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(api_token="s3cret")
    bare = client.post("/api/ask", json={"question": QUESTION}, headers={"Authorization": "s3cret"})
    assert bare.status_code == 401
    lower = client.post("/api/ask", json={"question": QUESTION}, headers={"Authorization": "bearer s3cret"})
    assert lower.status_code == 200


def test_deeply_nested_json_is_refused_before_parsing(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    response = client.post("/api/ask", content=b"[" * 1000, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "nested deeper" in response.json()["error"]
    fine = client.post("/api/ask", content=b'{"question": "[[[[[[ ' + b"[" * 60 + b' ?"}',
                       headers={"Content-Type": "application/json"})
    assert fine.status_code in (200, 400), "brackets inside strings do not count"


def test_every_route_has_a_body_limit(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_request_bytes=4096, max_body_bytes=2048, slack_max_body_bytes=2048)
    for path in ("/gradio_api/queue/join", "/login", "/api/ask"):
        response = client.post(path, content=b"x" * 10_000, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
