"""The Telegram webhook: authenticate, drop repeats, answer 200 at once.

The path carries a secret (a scanner cannot even find the route) and Telegram's
X-Telegram-Bot-Api-Secret-Token header must match, compared in constant time; the
update is handled in a tracked background task so Telegram never waits on trading.

This is the hottest route by far (every message and button press of every user), so it
is plain ASGI in front of the application rather than a FastAPI route: it skips route
matching, request objects and the exception machinery, which cost more than the check
itself. Its answers and error bodies are those of every other route, and it is timed in
the same request-latency metric under its template.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from tradedeck.api.errors import error_body
from tradedeck.bot.runtime import WEBHOOK_PATH, TelegramRuntime
from tradedeck.ops.metrics import Metrics

MAX_UPDATE = 1024 * 1024
PREFIX = WEBHOOK_PATH + "/"
ROUTE = WEBHOOK_PATH + "/{path_secret}"
_SECRET_HEADER = b"x-telegram-bot-api-secret-token"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class TelegramWebhook:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        try:
            status, body = await self._handle(scope, receive)
            headers = _JSON_HEADERS if body else []
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            method = scope["method"]
            self.metrics.http_request_duration_seconds.labels(
                method=method if method in ("POST", "GET") else "OTHER",
                route=ROUTE,
                status=str(status),
            ).observe(time.perf_counter() - started)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        runtime: TelegramRuntime | None = getattr(scope["app"].state, "telegram", None)
        path_secret = scope["path"][len(PREFIX) :]
        if runtime is None or not path_secret or "/" in path_secret:
            return _error(404, "not_found", "Not Found")
        header = next((v for k, v in scope["headers"] if k == _SECRET_HEADER), None)
        path_ok, header_ok = runtime.secret_matches(
            path_secret, header.decode("latin-1") if header is not None else None
        )
        if not path_ok:
            return _error(404, "not_found", "Not Found")
        if scope["method"] != "POST":
            return _error(405, "method_not_allowed", "Method Not Allowed")
        if not header_ok:
            return _error(401, "unauthorized", "bad webhook secret")
        body = await _read_body(receive)
        if body is None:
            return _error(413, "payload_too_large", "update too large")
        try:
            update: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "malformed_json", "not JSON")
        if not isinstance(update, dict):
            return _error(400, "invalid_update", "an update is an object")
        await runtime.accept(update)
        return 200, b""


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None once it passes ``MAX_UPDATE`` (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_UPDATE:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _error(status: int, code: str, detail: str) -> tuple[int, bytes]:
    return status, orjson.dumps(error_body(code, detail))


__all__ = ["MAX_UPDATE", "TelegramWebhook"]
