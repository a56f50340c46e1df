"""Secure defaults for the one process: response headers, CORS only when asked for, login throttling,
and a bearer-token check that needs the `Bearer` scheme.

The Content-Security-Policy is the strictest one Gradio's page still works under (it needs inline
scripts and styles, and a websocket back to this origin); what it adds over nothing is that no
other origin can frame the page, load scripts into it or receive its form posts, and that plugins
and <base> are off. The browser tests run the UI under it.
"""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; media-src 'self' blob:; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
}


def bearer_ok(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time; a bare token is not accepted."""
    scheme, _, given = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class SecurityHeaders:
    """Adds HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in HEADERS.items() if k not in present]]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """No route (Gradio's included) reads more than `limit` bytes: a declared larger body gets 413
    unread, and a streamed one is cut off (the app sees the client disconnect) once it passes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            response = JSONResponse({"error": f"request body is over the {self.limit:,}-byte limit"},
                                    status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)


class LoginThrottle:
    """After `attempts` failed logins from one address within `window` seconds, further login
    attempts from it get 429 until the window has passed."""

    def __init__(self, app: ASGIApp, attempts: int = 5, window: float = 60.0) -> None:
        self.app = app
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        failures = self._failures[client]
        now = time.monotonic()
        while failures and failures[0] < now - self.window:
            failures.popleft()
        if len(failures) >= self.attempts:
            wait = int(failures[0] + self.window - now) + 1
            response: Response = JSONResponse({"error": f"too many failed logins; try again in {wait} s"},
                                              status_code=429, headers={"Retry-After": str(wait)})
            await response(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 401, 403):
                failures.append(time.monotonic())
            await send(message)

        await self.app(scope, receive, watch)


def secure(app: FastAPI, cors_origins: list[str], max_request_bytes: int) -> None:
    """Install the defaults. CORS: only the listed origins; with none, no cross-origin access at all
    (Gradio stands back from its own localhost CORS when the parent app configures CORS)."""
    app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_credentials=bool(cors_origins),
                       allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(LoginThrottle)
    app.add_middleware(BodyLimit, limit=max_request_bytes)
    app.add_middleware(SecurityHeaders)
