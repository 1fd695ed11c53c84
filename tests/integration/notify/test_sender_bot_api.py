"""The sender with a real aiogram Bot against a stub Bot API server on loopback.

The stub answers each chat's first request with a 429 (retry_after=1), like Telegram's
flood control, and records when every request arrived, so the test checks what Telegram
would see: everything delivered once, in order per chat, never faster than allowed.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tradedeck.notify.sender import TelegramSender

TOKEN = "123456:stub-token-for-tests"
INTERVAL = 0.05
TOLERANCE = 0.005


@dataclass
class Arrival:
    at: float
    text: str
    parse_mode: str | None
    accepted: bool


@dataclass
class StubBotApi:
    arrivals: dict[int, list[Arrival]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    next_id: int = 1

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/bot{token}/sendMessage")
        async def send_message(token: str, request: Request) -> JSONResponse:
            now = time.monotonic()
            self.tokens.add(token)
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            chat_id = int(form["chat_id"])
            seen = self.arrivals.setdefault(chat_id, [])
            first = not seen
            seen.append(Arrival(now, form["text"], form.get("parse_mode"), not first))
            if first:
                return JSONResponse(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1},
                    },
                    status_code=429,
                )
            self.next_id += 1
            message: dict[str, Any] = {
                "message_id": self.next_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": form["text"],
            }
            return JSONResponse({"ok": True, "result": message})

        return app


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


async def test_real_bot_delivers_everything_once_in_order_and_paced() -> None:
    stub = StubBotApi()
    chats = list(range(1001, 1011))
    async with serve(stub.app()) as url:
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        sender = TelegramSender(bot, per_chat_interval=INTERVAL, global_per_second=200)
        try:
            await sender.start()
            for i in range(20):
                for chat in chats:
                    await sender.send(chat, f"<b>#{i}</b> for {chat} &amp; co")
            await asyncio.wait_for(sender.join(), timeout=30)
            await sender.stop()
        finally:
            await bot.session.close()

    assert stub.tokens == {TOKEN}
    assert (sender.sent, sender.dropped, sender.retried) == (200, 0, len(chats))
    for chat in chats:
        arrivals = stub.arrivals[chat]
        delivered = [a.text for a in arrivals if a.accepted]
        assert delivered == [f"<b>#{i}</b> for {chat} &amp; co" for i in range(20)]
        assert all(a.parse_mode == "HTML" for a in arrivals)
        # The flood-controlled first message came back after retry_after, not sooner.
        assert arrivals[1].at - arrivals[0].at >= 1.0 - TOLERANCE
        gaps = [b.at - a.at for a, b in itertools.pairwise(arrivals)]
        assert min(gaps) >= INTERVAL - TOLERANCE, (chat, min(gaps))
