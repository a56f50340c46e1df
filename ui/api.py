"""The JSON API: POST /api/ask and GET /api/health."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.chain import Bot
from bot.retrieve import Filters
from bot.snapshot import Snapshot, Watcher
from core.errors import KBError
from ui.admission import Admission, Overloaded
from ui.feedback import FeedbackStore
from ui.limits import read_limited
from ui.security import bearer_ok


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    k: int | None = Field(None, ge=1, le=50)
    filters: Filters = Filters()
    history: list[str] = Field(default_factory=list, max_length=20)


MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest (strings skipped), found before parsing: a thousand `[` must not
    reach the parser's recursion."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b"", raw):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def api_router(bot: Bot, feedback: FeedbackStore) -> APIRouter:
    settings = bot.settings
    serve = settings.serve
    router = APIRouter(prefix="/api")
    admission = Admission(serve.concurrency, serve.api_waiting, serve.api_max_wait)

    @router.post("/ask")
    async def ask(request: Request) -> JSONResponse:
        if serve.api_token and not bearer_ok(request.headers.get("authorization", ""), serve.api_token):
            return _error(401, "missing or wrong bearer token (Authorization: Bearer <KB_API_TOKEN>)")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(415, "send the question as JSON with Content-Type: application/json")
        raw = await read_limited(request, serve.max_body_bytes)
        if raw is None:
            return _error(413, f"request body is over the {serve.max_body_bytes:,}-byte limit")
        if json_depth(raw) > MAX_JSON_DEPTH:
            return _error(422, f"invalid request: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            body = AskBody.model_validate(json.loads(raw or b"null"))
        except (ValueError, ValidationError) as exc:
            return _error(422, f"invalid request: {_first_error(exc)}")
        wanted = body.filters.source_name
        known = bot.corpus.source_names
        if wanted is not None and wanted not in known:
            return _error(422, f"invalid request: filters.source_name: no source named {wanted!r} in the index "
                               f"(it has: {', '.join(known) or 'no named sources'})")
        try:
            async with admission.slot():
                if await request.is_disconnected():
                    return _error(499, "client closed the request")  # nobody to answer; skip the work
                answer = await asyncio.to_thread(bot.ask, body.question, body.history, body.k, body.filters)
        except Overloaded as exc:
            return JSONResponse({"error": f"busy ({exc}); retry in {exc.retry_after} s"}, status_code=503,
                                headers={"Retry-After": str(exc.retry_after)})
        except KBError as exc:
            return _error(400, str(exc))
        payload: dict[str, Any] = answer.contract()
        payload["id"] = feedback.record(answer, "api")
        return JSONResponse(payload)

    @router.get("/health")
    async def health(request: Request) -> JSONResponse:
        """200 while the served snapshot is current or being replaced; 503 when the index cannot be read.
        With a token configured, only a caller that presents it sees more than the status."""
        snapshot = bot.snapshot
        watcher = bot.watcher
        chunks = len(snapshot.corpus)
        error = watcher.error if watcher else ""
        status = "unavailable" if error else "ok" if chunks else "empty"
        payload = {"status": status, "index": settings.chroma_url or str(settings.chroma_dir),
                   "collection": settings.collection, "model": bot.embedder.name,
                   "index_version": snapshot.version, "index_state": _index_state(snapshot, watcher),
                   "documents": len(snapshot.corpus.doc_rows), "chunks": chunks,
                   "templates": snapshot.corpus.template_count, "answerer": bot.answerer.mode,
                   "dense_search": _dense_search(snapshot)}
        if error:
            payload["error"] = error
        code = 503 if status == "unavailable" else 200
        if serve.api_token and not bearer_ok(request.headers.get("authorization", ""), serve.api_token):
            return JSONResponse({"status": status}, status_code=code)
        return JSONResponse(payload, status_code=code)

    return router


def _dense_search(snapshot: Snapshot) -> str:
    """Where dense search runs: on the Chroma server, or over the snapshot (and why, when the server failed)."""
    server = snapshot.retriever.server
    if server is None:
        return "snapshot"
    return f"snapshot (the server failed: {server.error})" if server.error else "server"


def _index_state(snapshot: Snapshot, watcher: Watcher | None) -> str:
    """ready / writing as the index's head says, reloading while a newer version is being loaded."""
    latest = (watcher.head if watcher else None) or snapshot.head
    return "reloading" if latest != snapshot.head else latest.state


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"
    return "body is not valid JSON"
