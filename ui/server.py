"""One process: the Gradio UI at /, the JSON API under /api and Slack under /slack."""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI

from bot.chain import Bot
from ui.api import api_router
from ui.feedback import FeedbackStore
from ui.web import CSS, HEAD, build_web


def _auth(setting: str) -> tuple[str, str] | None:
    if not setting:
        return None
    user, sep, password = setting.partition(":")
    if not sep or not user or not password:
        from ingest.errors import KBError

        raise KBError("KB_UI_AUTH must look like user:password")
    return user, password


def build_app(bot: Bot, feedback: FeedbackStore | None = None, slack_client: Any = None) -> FastAPI:
    settings = bot.settings
    feedback = feedback or FeedbackStore(settings.feedback_db, settings.feedback_max_rows)
    app = FastAPI(title="serverless-kb", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    app.include_router(api_router(bot, feedback))
    from ui.slack import build_slack_app, slack_router

    app.include_router(slack_router(build_slack_app(bot, feedback, settings, client=slack_client), settings))
    blocks = build_web(bot, feedback)
    blocks.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    mounted: FastAPI = gr.mount_gradio_app(app, blocks, path="", auth=_auth(settings.ui_auth), css=CSS, head=HEAD,
                                           footer_links=[], show_error=False)
    return mounted
