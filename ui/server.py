"""One process: the Gradio UI at /, the JSON API under /api and Slack under /slack.

`kb serve` answers the API as soon as the bot is loaded; the web UI (importing Gradio alone takes
about 3 s on two cores) is built meanwhile in a thread and mounted when ready, and `/` says it is
starting until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from bot.chain import Bot
from ui.api import api_router
from ui.feedback import FeedbackStore
from ui.security import secure


def _auth(setting: str) -> tuple[str, str] | None:
    if not setting:
        return None
    user, sep, password = setting.partition(":")
    if not sep or not user or not password:
        from core.errors import KBError

        raise KBError("KB_UI_AUTH must look like user:password")
    return user, password


def _web_app(bot: Bot, feedback: FeedbackStore, parent: FastAPI, auth: tuple[str, str] | None) -> FastAPI:
    """The Gradio UI mounted on `parent` at the root (with Gradio's startup added to its lifespan)."""
    import gradio as gr

    from ui.web import CSS, HEAD, build_web

    settings = bot.settings
    blocks = build_web(bot, feedback)
    blocks.queue(max_size=settings.serve.queue_size, default_concurrency_limit=settings.serve.concurrency)
    mounted: FastAPI = gr.mount_gradio_app(parent, blocks, path="", auth=auth, css=CSS,
                                           head=HEAD, footer_links=[], show_error=False)
    return mounted


class LazyWeb:
    """The web UI once built; until then a page that says it is starting and reloads itself."""

    STARTING = (b"<!doctype html><meta http-equiv='refresh' content='2'><title>serverless-kb</title>"
                b"<p>The web UI is starting; this page reloads in a moment. The API is already answering.</p>")

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.error = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # a websocket before the UI exists: refused, the page retries
            await send({"type": "websocket.close", "code": 1013})
            return
        body = self.STARTING if not self.error else f"The web UI failed to start: {self.error}".encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"retry-after", b"2")]})
        await send({"type": "http.response.body", "body": body})

    async def run(self, build: Callable[[], FastAPI]) -> None:
        """Build in a thread, then serve it inside its own lifespan until cancelled."""
        try:
            app: FastAPI = await asyncio.to_thread(build)
        except Exception as exc:  # the API keeps serving; / says what went wrong
            self.error = f"{type(exc).__name__}: {exc}"
            print(f"the web UI failed to start: {self.error}", file=sys.stderr, flush=True)
            return
        async with app.router.lifespan_context(app):
            self.app = app
            await asyncio.Event().wait()  # until the server's lifespan ends and cancels this


def build_app(bot: Bot, feedback: FeedbackStore | None = None, slack_client: Any = None,
              lazy_web: bool = False) -> FastAPI:
    """The API and Slack routes with the web UI at the root; `lazy_web` builds the UI after startup."""
    settings = bot.settings
    feedback = feedback or FeedbackStore(settings.feedback_db, settings.serve.feedback_max_rows)
    # With auth on, the API description is not public either.
    public_docs = not (settings.serve.api_token or settings.serve.ui_auth)
    app = FastAPI(title="serverless-kb", docs_url="/api/docs" if public_docs else None,
                  openapi_url="/api/openapi.json" if public_docs else None, redoc_url=None)
    secure(app, settings.serve.cors_origins,
           max(settings.serve.max_request_bytes, settings.serve.max_body_bytes, settings.slack.max_body_bytes))
    app.include_router(api_router(bot, feedback))
    from ui.slack import build_slack_app, slack_router

    app.include_router(slack_router(build_slack_app(bot, feedback, settings, client=slack_client), settings))
    auth = _auth(settings.serve.ui_auth)  # a malformed setting fails at start, not in the UI's thread
    if not lazy_web:
        return _web_app(bot, feedback, app, auth)
    web = LazyWeb()
    served = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: FastAPI) -> AsyncIterator[Any]:
        async with served(parent) as state:
            task = asyncio.create_task(web.run(lambda: _web_app(bot, feedback, FastAPI(), auth)))
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    app.mount("/", web)
    return app


class _Server(uvicorn.Server):
    """uvicorn, with a second SIGTERM (not only a second Ctrl-C) meaning "stop now"."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            os._exit(128 + sig)  # in-flight answers are dropped; SQLite's WAL keeps feedback intact
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal once drained, which would kill the process before `serve`
        # closes the feedback database; the shutdown is finished by returning instead.
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def serve(bot: Bot, grace_seconds: int = 10) -> None:
    """Serve until SIGTERM or Ctrl-C: stop accepting, finish in-flight answers (up to `grace_seconds`),
    stop following the index and close the feedback database. A second signal exits at once."""
    settings, serve = bot.settings, bot.settings.serve
    feedback = FeedbackStore(settings.feedback_db, serve.feedback_max_rows)
    if serve.reload_seconds:
        bot.watch(serve.reload_seconds)
    config = uvicorn.Config(build_app(bot, feedback, lazy_web=True), host=serve.host, port=serve.port,
                            log_level="warning", timeout_graceful_shutdown=grace_seconds)
    print(f"serving on http://{serve.host}:{serve.port}", file=sys.stderr, flush=True)
    try:
        _Server(config).run()
    finally:
        if bot.watcher is not None:
            bot.watcher.stop()
        feedback.close()
        print("stopped", file=sys.stderr, flush=True)
