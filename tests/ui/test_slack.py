"""The Slack bot end to end: signed requests into the FastAPI route, the real Bot and feedback store,
and a local stand-in for the Slack Web API that records what the bot posts."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.answer import Answer, Citation
from bot.chain import Bot
from core.settings import SlackSettings
from ui.feedback import FeedbackStore
from ui.render import to_slack_blocks
from ui.slack import NOT_CONFIGURED, THANKS, USAGE, build_slack_app, question_text, slack_router

pytestmark = pytest.mark.integration

SECRET = "test-secret"
BOT_USER = "UKBBOT"
QUESTION = "How many times should a failed message be retried before the DLQ?"


class MockSlackAPI:
    """Answers every Web API method with ok and records the calls, decoded from JSON, form or query."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    self._answer(json.loads(raw or "{}"))
                else:
                    self._answer(dict(urllib.parse.parse_qsl(raw)))

            def _answer(self, payload: dict[str, Any]) -> None:
                if isinstance(payload.get("blocks"), str):  # form-encoded blocks are a JSON string
                    payload["blocks"] = json.loads(payload["blocks"])
                method = urllib.parse.urlsplit(self.path).path.removeprefix("/api/")
                api.record(method, payload)
                body = json.dumps({"ok": True, "user_id": BOT_USER, "bot_id": "BKB", "team_id": "T1", "user": "kb",
                                   "channel": payload.get("channel", ""), "ts": f"{time.time():.6f}",
                                   "messages": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler

    def record(self, method: str, payload: dict[str, Any]) -> None:
        with self._changed:
            self.calls.append((method, payload))
            self._changed.notify_all()

    def posted(self, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        with self._changed:
            return [payload for name, payload in self.calls if name == method]

    def wait_for(self, method: str = "chat.postMessage", count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len([1 for name, _ in self.calls if name == method]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"expected {count} {method} call(s) within {timeout}s, got {self.calls!r}")
                self._changed.wait(left)
        return self.posted(method)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Harness:
    http: TestClient
    api: MockSlackAPI
    app: App
    feedback: FeedbackStore
    limit: int = 0

    def post(self, body: str, content_type: str = "application/json", timestamp: int | None = None,
             secret: str = SECRET, headers: dict[str, str] | None = None) -> Any:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
        sent = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, "Content-Type": content_type,
                **(headers or {})}
        return self.http.post("/slack/events", content=body.encode(), headers=sent)

    def event(self, event: dict[str, Any], event_id: str, headers: dict[str, str] | None = None) -> Any:
        envelope = {"token": "unused", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                    "event_id": event_id, "event_time": int(time.time()), "event": event}
        return self.post(json.dumps(envelope), headers=headers)

    def form(self, fields: dict[str, str]) -> Any:
        return self.post(urllib.parse.urlencode(fields), content_type="application/x-www-form-urlencoded")

    def settle(self) -> None:
        """Wait until every lazy listener has finished, so 'nothing more was posted' is a fact."""
        self.app.listener_runner.listener_executor.shutdown(wait=True)


def mention(text: str, ts: str, channel: str = "C1", **extra: Any) -> dict[str, Any]:
    return {"type": "app_mention", "user": "U_ALICE", "text": text, "ts": ts, "channel": channel,
            "event_ts": ts, **extra}


@pytest.fixture
def slack(fixture_bot: Bot, tmp_path: Path) -> Iterator[Harness]:
    api = MockSlackAPI()
    feedback = FeedbackStore(tmp_path / "f.sqlite3")
    settings = fixture_bot.settings.model_copy(update={"slack": SlackSettings(bot_token="xoxb-test",
                                                                                 signing_secret=SECRET)})
    slack_app = build_slack_app(fixture_bot, feedback, settings,
                                client=WebClient(token="xoxb-test", base_url=api.url + "/api/"))
    assert slack_app is not None
    app = FastAPI()
    app.include_router(slack_router(slack_app, settings))
    with TestClient(app) as http:
        harness = Harness(http, api, slack_app, feedback, settings.slack.max_body_bytes)
        yield harness
        harness.settle()
    api.close()
    feedback.close()


def texts(blocks: list[dict[str, Any]], kind: str) -> list[str]:
    """The mrkdwn text of every block of one kind."""
    out = []
    for block in blocks:
        if block["type"] == kind == "section":
            out.append(block["text"]["text"])
        elif block["type"] == kind == "context":
            out.extend(element["text"] for element in block["elements"])
    return out


def test_a_mention_gets_a_threaded_answer_with_citations(slack: Harness) -> None:
    started = time.monotonic()
    response = slack.event(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000100"), "Ev1")
    assert response.status_code == 200
    assert time.monotonic() - started < 3, "Slack needs the ack within 3 seconds"

    posted = slack.api.wait_for()[0]
    assert posted["channel"] == "C1" and posted["thread_ts"] == "1700000000.000100"
    assert posted["text"] and "<@" not in posted["text"]
    assert any("[1]" in text for text in texts(posted["blocks"], "section"))
    assert any("GENERAL:" in text for text in texts(posted["blocks"], "context"))
    buttons = next(block for block in posted["blocks"] if block["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == ["kb_vote_up", "kb_vote_down"]
    (item,) = slack.feedback.items()
    assert item.channel == "slack" and item.question == QUESTION, "the mention is stripped from the question"
    assert buttons[0]["value"] == f"up:{item.id}"


def test_a_reply_in_a_thread_stays_in_that_thread(slack: Harness) -> None:
    slack.event(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000300", thread_ts="1700000000.000200"), "Ev2")
    posted = slack.api.wait_for()[0]
    assert posted["thread_ts"] == "1700000000.000200"
    assert slack.api.posted("conversations.replies"), "earlier questions in the thread are looked up"


def test_a_bad_signature_is_refused(slack: Harness) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev3", "event": mention(QUESTION, "1.1")})
    assert slack.post(body, secret="not-the-secret").status_code == 401
    unsigned = slack.http.post("/slack/events", content=body.encode(), headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    slack.settle()
    assert not slack.api.posted()


@pytest.mark.parametrize("headers", [
    {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64},
    {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=" + "0" * 64},
    {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": ""},
    {"X-Slack-Signature": "<script>"},
])
def test_malformed_slack_headers_get_401_before_the_body_is_parsed(slack: Harness, headers: dict[str, str]) -> None:
    response = slack.http.post("/slack/events", content=b"{not json[[[", headers={
        "Content-Type": "application/json", **headers})
    assert response.status_code == 401 and "X-Slack-" in response.json()["error"]


def test_an_oversized_body_gets_413_unread(slack: Harness) -> None:
    huge = b"x" * (slack.limit + 1)
    assert slack.http.post("/slack/events", content=huge, headers={"Content-Type": "application/json"}
                           ).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(slack.limit // 65536 + 2):
            yield b"y" * 65536

    assert slack.http.post("/slack/events", content=chunks(), headers={"Content-Type": "application/json"}
                           ).status_code == 413


def test_a_signed_malformed_body_is_a_client_error(slack: Harness) -> None:
    response = slack.post("{not json[[[")
    assert 400 <= response.status_code < 500


def test_an_old_timestamp_is_refused_even_when_correctly_signed(slack: Harness) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev4", "event": mention(QUESTION, "1.2")})
    assert slack.post(body, timestamp=int(time.time()) - 6 * 60).status_code == 401
    slack.settle()
    assert not slack.api.posted()


def test_a_retried_event_is_answered_once(slack: Harness) -> None:
    event = mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000500")
    assert slack.event(event, "Ev5").status_code == 200
    retry = slack.event(event, "Ev5", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200, "a resend is acknowledged, or Slack keeps resending"
    slack.settle()
    assert len(slack.api.posted()) == 1
    assert len(slack.feedback.items()) == 1


def test_the_same_message_as_two_events_is_answered_once(slack: Harness) -> None:
    # A mention in a DM arrives as app_mention and as message.im, with different event_ids.
    text, ts = f"<@{BOT_USER}> {QUESTION}", "1700000000.000600"
    slack.event(mention(text, ts, channel="D1"), "Ev6a")
    slack.event({"type": "message", "channel_type": "im", "user": "U_ALICE", "text": text, "ts": ts,
                 "channel": "D1"}, "Ev6b")
    slack.settle()
    assert len(slack.api.posted()) == 1


def test_url_verification_echoes_the_challenge(slack: Harness) -> None:
    response = slack.post(json.dumps({"token": "unused", "type": "url_verification", "challenge": "c-123"}))
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}


def test_a_thumbs_down_click_is_stored(slack: Harness) -> None:
    slack.event(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000700"), "Ev7")
    posted = slack.api.wait_for()[0]
    buttons = next(block for block in posted["blocks"] if block["type"] == "actions")["elements"]
    down = next(b for b in buttons if b["action_id"] == "kb_vote_down")
    payload = {"type": "block_actions", "user": {"id": "U_ALICE"}, "team": {"id": "T1"}, "api_app_id": "A1",
               "channel": {"id": "C1"}, "trigger_id": "t1", "response_url": slack.api.url + "/response",
               "container": {"type": "message", "message_ts": "1700000000.000800", "channel_id": "C1"},
               "message": {"ts": "1700000000.000800", "thread_ts": "1700000000.000700"},
               "actions": [{"type": "button", "block_id": "kb_feedback", "action_id": down["action_id"],
                            "value": down["value"], "action_ts": "1700000001.0"}]}
    response = slack.form({"payload": json.dumps(payload)})
    assert response.status_code == 200

    (item,) = slack.feedback.items("down")
    assert f"down:{item.id}" == down["value"] and item.channel == "slack" and item.question == QUESTION
    thanks = slack.api.wait_for("chat.postEphemeral")[0]
    assert thanks["user"] == "U_ALICE" and thanks["text"] == THANKS


def test_without_token_and_secret_the_route_says_what_to_set(fixture_bot: Bot, tmp_path: Path) -> None:
    settings = fixture_bot.settings.model_copy(update={"slack": SlackSettings()})
    feedback = FeedbackStore(tmp_path / "f.sqlite3")
    assert build_slack_app(fixture_bot, feedback, settings) is None
    only_token = settings.model_copy(update={"slack": SlackSettings(bot_token="xoxb-test")})
    assert build_slack_app(fixture_bot, feedback, only_token) is None
    app = FastAPI()
    app.include_router(slack_router(None, settings))
    response = TestClient(app).post("/slack/events", json={"type": "url_verification", "challenge": "c"})
    assert response.status_code == 503
    assert response.json() == {"error": NOT_CONFIGURED}
    assert "SLACK_BOT_TOKEN" in NOT_CONFIGURED and "SLACK_SIGNING_SECRET" in NOT_CONFIGURED
    feedback.close()


def test_a_direct_message_is_answered(slack: Harness) -> None:
    dm = {"type": "message", "channel_type": "im", "user": "U_ALICE", "text": QUESTION, "ts": "1700000000.000900",
          "channel": "D1", "event_ts": "1700000000.000900"}
    slack.event(dm, "Ev9")
    posted = slack.api.wait_for()[0]
    assert posted["channel"] == "D1" and posted["thread_ts"] == "1700000000.000900"
    assert any("[1]" in text for text in texts(posted["blocks"], "section"))


def test_bot_posts_edits_and_channel_messages_are_not_answered(slack: Harness) -> None:
    base = {"type": "message", "user": "U_ALICE", "text": QUESTION, "channel": "D1"}
    slack.event({**base, "channel_type": "im", "bot_id": "BOTHER", "ts": "1.1"}, "Ev10a")
    slack.event({**base, "channel_type": "im", "subtype": "message_changed", "ts": "1.2"}, "Ev10b")
    slack.event({**base, "channel_type": "channel", "channel": "C1", "ts": "1.3"}, "Ev10c")
    slack.event({**base, "channel_type": "im", "user": BOT_USER, "ts": "1.4"}, "Ev10d")  # our own message
    slack.settle()
    assert not slack.api.posted()


def test_a_slash_command_posts_the_answer_in_the_channel(slack: Harness) -> None:
    fields = {"command": "/kb", "text": QUESTION, "user_id": "U_ALICE", "channel_id": "C7", "team_id": "T1",
              "response_url": slack.api.url + "/response", "trigger_id": "t1", "api_app_id": "A1"}
    assert slack.form(fields).status_code == 200
    posted = slack.api.wait_for()[0]
    assert posted["channel"] == "C7" and "thread_ts" not in posted
    assert "<@U_ALICE> asked:" in posted["blocks"][0]["elements"][0]["text"]
    assert any("[1]" in text for text in texts(posted["blocks"], "section"))


def test_an_empty_slash_command_gets_the_usage_hint(slack: Harness) -> None:
    fields = {"command": "/kb", "text": "  ", "user_id": "U_ALICE", "channel_id": "C7", "team_id": "T1",
              "response_url": slack.api.url + "/response", "trigger_id": "t1", "api_app_id": "A1"}
    response = slack.form(fields)
    assert response.status_code == 200 and response.text == USAGE
    slack.settle()
    assert not slack.api.posted()


def test_an_empty_mention_gets_a_short_friendly_message(slack: Harness) -> None:
    slack.event(mention(f"<@{BOT_USER}>", "1700000000.001100"), "Ev11")
    posted = slack.api.wait_for()[0]
    assert posted["text"].startswith("Sorry, I can't answer that: the question is empty")
    assert "Traceback" not in posted["text"] and not posted.get("blocks")


def test_document_text_is_escaped_in_the_blocks() -> None:
    citation = Citation(n=1, source="x.md", title="Evil <!here> doc", section="Evil <!here> doc > <b>", anchor="a",
                        start_line=1, end_line=2, score=1.0, text="@channel <script>alert(1)</script>")
    answer = Answer(question="q", answer="a", abstained=False, citations=[citation], disclaimer="GENERAL: <x> @here",
                    points=["Tell @channel about <script>alert(1)</script> & more [1]"])
    rendered = json.dumps(to_slack_blocks(answer, "id1"), ensure_ascii=False)
    for raw in ("<script>", "<!here>", "@channel", "@here", "<b>", "<x>"):
        assert raw not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in rendered
    assert "@\u200bchannel" in rendered and "&lt;!here&gt;" in rendered


def test_question_text_turns_slack_markup_into_plain_text() -> None:
    assert question_text("<@UKBBOT> What about <https://aws.amazon.com/sqs|SQS> in <#C1|ops>? a &lt; b &amp;&amp; c") \
        == "What about SQS in #ops? a < b && c"
    assert question_text("<!here> <@U1|alice> hi <https://example.com>") == "hi https://example.com"


def test_events_are_acked_even_when_slack_cannot_be_reached(fixture_bot: Bot, tmp_path: Path) -> None:
    """No auth.test (or any Slack call) on the request path: with no route to Slack the ack is still 200."""
    from evals.bench import free_port

    nowhere = WebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{free_port()}/api/", timeout=1)
    settings = fixture_bot.settings.model_copy(update={"slack": SlackSettings(bot_token="xoxb-test",
                                                                                 signing_secret=SECRET)})
    feedback = FeedbackStore(tmp_path / "f.sqlite3")
    slack_app = build_slack_app(fixture_bot, feedback, settings, client=nowhere)
    assert slack_app is not None
    app = FastAPI()
    app.include_router(slack_router(slack_app, settings))
    with TestClient(app) as http:
        harness = Harness(http, MockSlackAPI(), slack_app, feedback)
        assert harness.event(mention(QUESTION, "1700000001.000100"), "EvNoRoute").status_code == 200
        harness.settle()
        harness.api.close()
    feedback.close()
