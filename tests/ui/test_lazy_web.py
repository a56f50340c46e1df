"""The web UI mounted after the server starts: a starting page, then the UI, or the reason it failed."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from ui.server import LazyWeb


async def _get(app: object, path: str = "/") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:  # type: ignore[arg-type]
        return await client.get(path)


def test_starting_then_serving_the_built_app() -> None:
    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        web = LazyWeb()
        before = await _get(web)
        ui = FastAPI()
        ui.get("/")(lambda: PlainTextResponse("the chat"))
        task = asyncio.create_task(web.run(lambda: ui))
        while web.app is None:
            await asyncio.sleep(0.01)
        after = await _get(web)
        task.cancel()
        return before, after

    before, after = asyncio.run(scenario())
    assert before.status_code == 503 and "starting" in before.text and before.headers["retry-after"] == "2"
    assert after.status_code == 200 and after.text == "the chat"


def test_a_failed_build_is_said_on_the_page() -> None:
    def broken() -> FastAPI:
        raise RuntimeError("no theme files")

    async def scenario() -> httpx.Response:
        web = LazyWeb()
        await web.run(broken)
        return await _get(web)

    response = asyncio.run(scenario())
    assert response.status_code == 503 and "RuntimeError: no theme files" in response.text
