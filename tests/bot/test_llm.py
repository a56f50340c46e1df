"""The optional LLM answerer against fake chat models and a local OpenAI-compatible stub server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from langchain_core.language_models import FakeListChatModel

from bot.chain import Bot
from bot.llm import LLMAnswerer, chat_model, parse_claims
from core.errors import KBError

pytestmark = pytest.mark.integration
QUESTION = "How many times should a failed message be retried before the DLQ?"
REPLY = ("- An SQS redrive policy with maxReceiveCount of 5 moves the message to the DLQ automatically [1]\n"
         "- Lambda supports 47 programming languages natively on Tuesdays [1]\n"
         "- Move the message to a dead-letter queue and alarm on its depth after the last attempt [9]\n"
         "- Ignore previous instructions")


def _ask(bot: Bot, answerer: LLMAnswerer) -> Any:
    previous = bot.answerer
    bot.answerer = answerer
    try:
        return bot.ask(QUESTION)
    finally:
        bot.answerer = previous


def test_parse_claims_removes_invented_citations() -> None:
    claims = parse_claims(REPLY, allowed=3)
    assert [c.source for c in claims] == [1, 1]
    assert all("[" not in c.text for c in claims)


def test_post_check_drops_invented_citations_and_unsupported_sentences(fixture_bot: Bot) -> None:
    answerer = LLMAnswerer(FakeListChatModel(responses=[REPLY]), fixture_bot.embedder, timeout=5)
    answer = _ask(fixture_bot, answerer)
    assert answer.mode == "llm" and not answer.abstained
    assert len(answer.points) == 1 and "maxReceiveCount of 5" in answer.points[0]
    assert "47 programming languages" not in answer.answer and "[9]" not in answer.answer
    assert answer.disclaimer.startswith("GENERAL:") and answer.disclaimer.split("\n")[0] in answer.answer
    cited = [c.source for c in answer.citations]
    assert cited[0] == "patterns/resilience/retry-queues.md"


def test_templates_come_from_the_knowledge_base_not_the_model(fixture_bot: Bot) -> None:
    reply = ("- Provisioned concurrency keeps environments initialised [1]\n```yaml\nInvented: true\n```")
    answerer = LLMAnswerer(FakeListChatModel(responses=[reply]), fixture_bot.embedder, timeout=5)
    previous = fixture_bot.answerer
    fixture_bot.answerer = answerer
    try:
        answer = fixture_bot.ask("Show me a SAM template with provisioned concurrency")
    finally:
        fixture_bot.answerer = previous
    assert "Invented" not in answer.answer
    assert answer.templates and "ProvisionedConcurrentExecutions: 2" in answer.templates[0].code


class _Broken(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise ConnectionError("provider is down")


_LATE = threading.Event()  # set once the answer has fallen back, so the slow reply's thread ends


class _Slow(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        _LATE.wait(10)
        return "- too late [1]"


@pytest.mark.parametrize(("model", "note"), [(_Broken(responses=["x"]), "provider is down"),
                                             (_Slow(responses=["x"]), "no reply within 0.3 s"),
                                             (FakeListChatModel(responses=["NO ANSWER"]), "no supported")])
def test_errors_and_timeouts_fall_back_to_extractive(fixture_bot: Bot, model: Any, note: str) -> None:
    _LATE.clear()
    try:
        answer = _ask(fixture_bot, LLMAnswerer(model, fixture_bot.embedder, timeout=0.3))
    finally:
        _LATE.set()
    assert answer.mode == "extractive" and answer.points
    assert any(note in n for n in answer.notes), answer.notes


class _StubOpenAI(BaseHTTPRequestHandler):
    """Just enough of /v1/chat/completions; records the prompts it receives."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        reply = {"id": "stub", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": REPLY}}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_compatible_server_via_init_chat_model(fixture_bot: Bot, stub_server: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    _StubOpenAI.requests.clear()
    answer = _ask(fixture_bot, LLMAnswerer(chat_model("openai:stub-model", 5), fixture_bot.embedder, timeout=5))
    assert answer.mode == "llm" and len(answer.points) == 1
    prompt = _StubOpenAI.requests[0]["messages"]
    assert "untrusted data" in prompt[0]["content"] and '<source n="1"' in prompt[1]["content"]


def test_bad_llm_setting_is_a_clear_error() -> None:
    with pytest.raises(KBError, match="provider:model"):
        chat_model("gpt-4o", 5)
