"""A real browser (Debian's Chromium, driven by Playwright) against the real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chain import Bot
from evals.bench import free_port
from tests.conftest import ROOT
from ui.feedback import FeedbackStore

pytestmark = pytest.mark.integration
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server(fixture_bot: Bot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FeedbackStore]]:
    yield from _serve(fixture_bot, tmp_path_factory, lazy_web=False)


def _serve(bot: Bot, tmp_path_factory: pytest.TempPathFactory, lazy_web: bool) -> Iterator[tuple[str, FeedbackStore]]:
    import uvicorn

    from ui.server import build_app

    store = FeedbackStore(tmp_path_factory.mktemp("web") / "feedback.sqlite3")
    port = free_port()
    config = uvicorn.Config(build_app(bot, store, lazy_web=lazy_web), host="127.0.0.1", port=port,
                            log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", store
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server: tuple[str, FeedbackStore]) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.requests_seen = []  # type: ignore[attr-defined]
        tab.on("request", lambda request: tab.requests_seen.append(request.url))  # type: ignore[attr-defined]
        tab.goto(server[0] + "/", wait_until="domcontentloaded")
        tab.locator("#kb-question textarea").wait_for(timeout=60_000)
        yield tab
        browser.close()


def _ask(page: object, question: str) -> str:
    """Ask, wait until the new answer has finished streaming (its disclaimer is shown), return the chat."""
    chat = page.locator("#kb-chat")  # type: ignore[attr-defined]
    before = chat.get_by_text("GENERAL:").count()
    box = page.locator("#kb-question textarea")  # type: ignore[attr-defined]
    box.fill(question)
    box.press("Enter")
    deadline = time.monotonic() + 30
    while chat.get_by_text("GENERAL:").count() <= before:
        assert time.monotonic() < deadline, f"no answer to {question!r}"
        time.sleep(0.2)
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    text: str = chat.inner_text()
    return text


def test_ask_shows_citations_sources_and_disclaimer(page: object, server: tuple[str, FeedbackStore]) -> None:
    text = _ask(page, "How many times should a failed message be retried before the DLQ?")
    assert "[1]" in text and "Sources" in text and "GENERAL:" in text
    assert "retry-queues.md" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)  # type: ignore[attr-defined]
    page.locator("#kb-chat a[href^='#kb-src-']").first.click()  # type: ignore[attr-defined]
    opened = page.locator("#kb-sources details[open]")  # type: ignore[attr-defined]
    opened.first.wait_for(timeout=5_000)
    assert "retry-queues.md" in opened.first.inner_text() and opened.first.locator("mark").count() >= 1
    page.locator("#kb-up").click()  # type: ignore[attr-defined]
    page.get_by_text("your feedback was recorded").wait_for(timeout=5_000)  # type: ignore[attr-defined]
    assert [i.vote for i in server[1].items() if i.channel == "web"][-1] == "up"


def test_templates_render_as_code_with_a_copy_button(page: object) -> None:
    _ask(page, "Show me a SAM template with provisioned concurrency")
    codes = page.locator("#kb-chat pre code").all_inner_texts()  # type: ignore[attr-defined]
    assert any("ProvisionedConcurrentExecutions: 2" in code for code in codes)
    assert page.locator("#kb-chat pre button, #kb-chat .copy_code_button, #kb-chat [aria-label*='opy']").count() >= 1  # type: ignore[attr-defined]


def test_document_markup_stays_inert(page: object) -> None:
    text = _ask(page, "How long should read-heavy API Gateway responses be cached?")
    # The hostile document answers, and its markup is shown as text, not run (checked below).
    assert "untrusted-markup.md" in text and "<script>" in text, text
    assert page.evaluate("window.__kbPwned === undefined")  # type: ignore[attr-defined]
    assert page.locator("#kb-chat img[src*='evil.example'], #kb-sources img").count() == 0  # type: ignore[attr-defined]
    assert page.locator("#kb-chat a[href^='javascript:']").count() == 0  # type: ignore[attr-defined]
    assert not [u for u in page.requests_seen if "evil.example" in u]  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "web-inert.png"), full_page=True)  # type: ignore[attr-defined]


def test_abstention_is_shown_as_such(page: object) -> None:
    text = _ask(page, "What is the best recipe for lasagna?")
    assert "Not in the knowledge base" in text


def _status(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_kb_serve_answers_the_api_before_the_web_ui_is_built_then_serves_the_ui(
        fixture_bot: Bot, tmp_path_factory: pytest.TempPathFactory, page: object) -> None:
    """`kb serve` mounts the UI when Gradio is ready: the API answers from the start, `/` says it
    is starting, then the same page works end to end (questions over Gradio's queue)."""
    serving = _serve(fixture_bot, tmp_path_factory, lazy_web=True)
    url, _ = next(serving)
    try:
        assert _status(f"{url}/api/health")[0] == 200
        status, body = _status(f"{url}/")
        assert status == 200 or (status == 503 and "starting" in body)
        deadline = time.monotonic() + 60
        while _status(f"{url}/")[0] != 200:
            assert time.monotonic() < deadline, "the web UI was never mounted"
            time.sleep(0.2)
        tab = page.context.new_page()  # type: ignore[attr-defined]  # the module's browser
        tab.goto(url + "/", wait_until="domcontentloaded")
        tab.locator("#kb-question textarea").wait_for(timeout=60_000)
        text = _ask(tab, "How many times should a failed message be retried before the DLQ?")
        tab.close()
        assert "[1]" in text and "retry-queues.md" in text
    finally:
        serving.close()
