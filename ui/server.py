"""One process: the Gradio UI at /, the JSON API under /api and Slack under /slack."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI

from bot.chain import Bot
from ui.api import api_router
from ui.feedback import FeedbackStore
from ui.security import secure
from ui.web import CSS, HEAD, build_web


def _auth(setting: str) -> tuple[str, str] | None:
    if not setting:
        return None
    user, sep, password = setting.partition(":")
    if not sep or not user or not password:
        from core.errors import KBError

        raise KBError("KB_UI_AUTH must look like user:password")
    return user, password


def build_app(bot: Bot, feedback: FeedbackStore | None = None, slack_client: Any = None) -> FastAPI:
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
    blocks = build_web(bot, feedback)
    blocks.queue(max_size=settings.serve.queue_size, default_concurrency_limit=settings.serve.concurrency)
    mounted: FastAPI = gr.mount_gradio_app(app, blocks, path="", auth=_auth(settings.serve.ui_auth), css=CSS,
                                           head=HEAD, footer_links=[], show_error=False)
    return mounted


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
    config = uvicorn.Config(build_app(bot, feedback), host=serve.host, port=serve.port, log_level="warning",
                            timeout_graceful_shutdown=grace_seconds)
    print(f"serving on http://{serve.host}:{serve.port}", file=sys.stderr, flush=True)
    try:
        _Server(config).run()
    finally:
        if bot.watcher is not None:
            bot.watcher.stop()
        feedback.close()
        print("stopped", file=sys.stderr, flush=True)
