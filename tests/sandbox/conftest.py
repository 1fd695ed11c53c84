"""The sandbox served by uvicorn on a loopback port, and a real aiogram Bot pointed at it.

Starting and stopping uvicorn costs about 0.2 s, so one server runs for the whole session and
each test plugs its own fresh emulator into it. Tests here therefore run on the session's
event loop: modules set ``pytestmark = SESSION_LOOP``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
import uvicorn
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from starlette.types import ASGIApp, Receive, Scope, Send

from tradedeck.sandbox import BotApiEmulator, FloodLimits, SandboxUser, create_sandbox_app

TOKEN = "123456789:sandbox-test-token"
ALICE = SandboxUser(1001, "Alice", "alice")
BOB = SandboxUser(1002, "Bob")
SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class QuickCloseSession(AiohttpSession):
    """aiogram waits 250 ms on close for TLS shutdown; plain loopback HTTP needs none."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, timeout=10)


class Switchboard:
    """The session server's app: forwards every request to the current test's app."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no sandbox plugged in"
        await self.app(scope, receive, send)


async def serve_app(app: ASGIApp) -> Served:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every response stalls ~40 ms on Nagle plus delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    return Served(f"http://127.0.0.1:{port}", server, task)


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    return Bot(token, session=QuickCloseSession(api=TelegramAPIServer.from_base(base_url)))


def png(width: int = 4, height: int = 3) -> bytes:
    """A valid PNG of the given size, so sendPhoto passes Telegram's image check."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> BotApiEmulator:
    """Flood control off: most tests send quickly; test_flood turns it on."""
    return BotApiEmulator(limits=FloodLimits(enabled=False), clock=clock)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def switchboard() -> AsyncIterator[tuple[Switchboard, str]]:
    board = Switchboard()
    served = await serve_app(board)
    try:
        yield board, served.url
    finally:
        await served.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def sandbox_url(
    switchboard: tuple[Switchboard, str], emulator: BotApiEmulator
) -> AsyncIterator[str]:
    board, url = switchboard
    board.app = create_sandbox_app(emulator)
    try:
        yield url
    finally:
        board.app = None
        await emulator.close()


@pytest_asyncio.fixture(loop_scope="session")
async def bot(sandbox_url: str) -> AsyncIterator[Bot]:
    bot = make_bot(sandbox_url)
    try:
        yield bot
    finally:
        await bot.session.close()


@pytest_asyncio.fixture(loop_scope="session")
async def alice_chat(emulator: BotApiEmulator) -> int:
    """Alice has started the bot, so it may write to her."""
    await emulator.user_sends(TOKEN, ALICE, "/start")
    return ALICE.id
