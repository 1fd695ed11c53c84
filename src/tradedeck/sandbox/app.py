"""HTTP face of the sandbox: the Bot API routes a bot calls, and the web chat a person uses.

``sandbox_router`` is mounted by the tradedeck app under ``/sandbox`` (the bot then uses
``TelegramAPIServer.from_base("http://127.0.0.1:8000/sandbox")``), or by
``create_sandbox_app`` at the root for tests.

The routes refuse clients that are not on this machine unless ``allow_remote`` is set: the
web chat lets anyone speak as any Telegram user id, which on a trading platform means as the
admin, so it must not be reachable from the network by accident.

The Bot API itself (``/bot<token>/<method>``, every call the bot makes) is plain ASGI in
front of the app, as tradedeck's own webhook is: FastAPI's routing and dependency solving
cost several times what the emulator does with a call. ``mount_sandbox`` installs both.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from tradedeck.sandbox.core import TOKEN_PATTERN
from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.sandbox.errors import BotApiError, UserActionError, not_found, unauthorized
from tradedeck.sandbox.models import SandboxUser
from tradedeck.sandbox.params import params_from_http

DEFAULT_USER_ID = 1001
MAX_REQUEST = 50 * 1024 * 1024  # Telegram's upload limit for bots
DEFAULT_USER_NAME = "Sandbox Trader"
# Starlette's TestClient reports this as the client host; it never comes from a network.
_IN_PROCESS_CLIENTS = frozenset({"testclient"})


class SendRequest(BaseModel):
    user_id: int = DEFAULT_USER_ID
    first_name: str = Field(default=DEFAULT_USER_NAME, min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=4096)


class PressRequest(BaseModel):
    user_id: int = DEFAULT_USER_ID
    first_name: str = Field(default=DEFAULT_USER_NAME, min_length=1, max_length=64)
    message_id: int
    data: str = Field(min_length=1, max_length=64)


def _is_local(host: str | None) -> bool:
    if host is None or host in _IN_PROCESS_CLIENTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _local_only(request: Request) -> None:
    if not _is_local(request.client.host if request.client else None):
        raise HTTPException(status_code=403, detail="the Telegram sandbox only serves this machine")


def sandbox_router(emulator: BotApiEmulator, *, allow_remote: bool = False) -> APIRouter:
    """The web chat and file downloads; the Bot API calls are :class:`BotApiEndpoint`'s."""
    dependencies = [] if allow_remote else [Depends(_local_only)]
    router = APIRouter(dependencies=dependencies, include_in_schema=False)
    _add_file_routes(router, emulator)
    _add_web_chat_routes(router, emulator)
    return router


def mount_sandbox(
    app: FastAPI, emulator: BotApiEmulator, prefix: str = "", *, allow_remote: bool = False
) -> None:
    """Serve the sandbox under ``prefix``: the Bot API, the web chat and file downloads."""
    app.include_router(
        sandbox_router(emulator, allow_remote=allow_remote), prefix=prefix, include_in_schema=False
    )
    app.add_middleware(BotApiEndpoint, emulator=emulator, prefix=prefix, allow_remote=allow_remote)


class BotApiEndpoint:
    """``{prefix}/bot<token>/<method>`` as plain ASGI; everything else goes to ``app``."""

    def __init__(
        self, app: ASGIApp, emulator: BotApiEmulator, prefix: str = "", *, allow_remote: bool
    ) -> None:
        self.app = app
        self.emulator = emulator
        self.start = prefix + "/bot"
        self.allow_remote = allow_remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.start):
            await self.app(scope, receive, send)
            return
        token, slash, method = path[len(self.start) :].partition("/")
        if not (token and slash and method) or "/" in method:
            await self.app(scope, receive, send)  # the file route, or a 404
            return
        status, body = await self._answer(scope, receive, token, method)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(body)})

    async def _answer(
        self, scope: Scope, receive: Receive, token: str, method: str
    ) -> tuple[int, Any]:
        client = scope.get("client")
        if not self.allow_remote and not _is_local(client[0] if client else None):
            return 403, {"detail": "the Telegram sandbox only serves this machine"}
        if scope["method"] not in ("GET", "POST"):
            return 405, {"detail": "Method Not Allowed"}
        body = await _read_body(receive)
        if body is None:
            return 413, {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}
        headers = dict(scope["headers"])
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        try:
            params = params_from_http(
                query, headers.get(b"content-type", b"").decode("latin-1"), body
            )
        except BotApiError as error:
            return error.status, error.payload()
        return await self.emulator.call(token, method, params)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def create_sandbox_app(emulator: BotApiEmulator) -> FastAPI:
    """The sandbox alone at the root, as tests serve it; stops webhook delivery on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await emulator.close()

    app = FastAPI(title="tradedeck Telegram sandbox", lifespan=lifespan)
    mount_sandbox(app, emulator)
    return app


def _add_file_routes(router: APIRouter, emulator: BotApiEmulator) -> None:
    @router.get("/file/bot{token}/{file_path:path}")
    async def download(token: str, file_path: str) -> Response:
        if not TOKEN_PATTERN.match(token):
            return JSONResponse(unauthorized().payload(), status_code=401)
        found = emulator.file(token, file_path)
        if found is None:
            return JSONResponse(not_found().payload(), status_code=404)
        return Response(found.data, media_type=found.mime_type or "application/octet-stream")


def _add_web_chat_routes(router: APIRouter, emulator: BotApiEmulator) -> None:
    page = resources.files("tradedeck.sandbox").joinpath("webchat.html").read_text("utf-8")

    @router.get("/")
    async def web_chat() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @router.post("/api/send")
    async def send(request: SendRequest) -> dict[str, Any]:
        user = SandboxUser(request.user_id, request.first_name)
        try:
            update_id = await emulator.user_sends(_token(emulator), user, request.text)
        except UserActionError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return {"ok": True, "update_id": update_id}

    @router.post("/api/press")
    async def press(request: PressRequest) -> dict[str, Any]:
        user = SandboxUser(request.user_id, request.first_name)
        token = _token(emulator)
        try:
            query_id = await emulator.user_presses(
                token, user, request.user_id, request.message_id, request.data
            )
        except UserActionError as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return {"ok": True, "callback_query_id": query_id}

    @router.get("/api/messages")
    async def messages(
        user_id: int = Query(DEFAULT_USER_ID), after: int = Query(0, ge=0)
    ) -> dict[str, Any]:
        token = emulator.default_token
        if token is None:
            return {"version": emulator.version, "bot": None, "messages": [], "answers": []}
        return emulator.chat_changes(token, user_id, after)

    @router.get("/api/file/{file_id}")
    async def file(file_id: str) -> Response:
        found = emulator.file_by_id(_token(emulator), file_id)
        if found is None:
            raise HTTPException(status_code=404, detail="no such file")
        return Response(found.data, media_type=found.mime_type or "application/octet-stream")


def _token(emulator: BotApiEmulator) -> str:
    token = emulator.default_token
    if token is None:
        raise HTTPException(
            status_code=503,
            detail="no bot yet: start the bot, or set emulator.default_token",
        )
    return token
