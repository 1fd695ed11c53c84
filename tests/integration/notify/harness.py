"""The notification pipeline against the sandbox Bot API over real HTTP.

Traders in a real (SQLite) database, each of whom has written to the bot in the sandbox
(a bot cannot start a private chat), and an aiogram Bot pointed at the emulator, so tests
check what Telegram would have received: the emulator's messages and its call log.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import Served, bound_socket
from tradedeck.domain.roles import Role
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.notify.ledger import DeliveryLedger
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.sender import Priority, TelegramSender
from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.emulator import BotApiEmulator, FloodLimits
from tradedeck.sandbox.models import ApiCall, SandboxUser
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository, User

TOKEN = "424242:notify-pipeline-test"
FIRST_CHAT = 7000


class Gate:
    """ASGI in front of the sandbox: lets ``limit`` sendMessage calls through, then holds
    the next ones unanswered, as requests in the air when a notifier dies, until released.

    A held request never reaches the emulator; once released it is answered 502 (its
    caller is gone by then) and everything after passes again.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limit: int | None = None
        self.forwarded = 0
        self.holding = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gated = (
            scope["type"] == "http"
            and str(scope.get("path", "")).endswith("/sendMessage")
            and self.limit is not None
            and not self.released.is_set()
        )
        if gated:
            if self.forwarded >= (self.limit or 0):
                self.holding.set()
                await self.released.wait()
                await send({"type": "http.response.start", "status": 502, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            self.forwarded += 1
        await self.app(scope, receive, send)


@dataclass
class Pipeline:
    emulator: BotApiEmulator
    sandbox: Served
    repo: Repository
    users: list[User]
    gate: Gate
    database_url: str

    def bot(self) -> Bot:
        """A fresh Bot (its own HTTP session), as a new process would have."""
        api = TelegramAPIServer.from_base(self.sandbox.url)
        return Bot(TOKEN, session=AiohttpSession(api=api))

    def sender(self, bot: Bot, **options: Any) -> TelegramSender:
        return TelegramSender(bot, **options)

    def notifier(
        self,
        bus: EventBus,
        sender: TelegramSender,
        *,
        batch_intervals: dict[Priority, float] | None = None,
        ledger: DeliveryLedger | None = None,
        admin_chat: int | None = None,
    ) -> Notifier:
        return Notifier(
            bus,
            sender,
            self.repo,
            batch_intervals=batch_intervals,
            ledger=ledger,
            admin_chat=admin_chat,
        )

    def chat_of(self, user: User) -> int:
        assert user.telegram_id is not None
        return user.telegram_id

    def texts(self, chat_id: int) -> list[str]:
        """What a person reads in the chat, oldest first."""
        return [m.text for m in self.emulator.messages(TOKEN, chat_id)]

    def sends(self) -> list[ApiCall]:
        return [c for c in self.emulator.calls(TOKEN) if c.method == "sendMessage"]


def fill(user: User, n: int) -> Event:
    """A fill whose message is unique to ``n`` (as the chat shows it: see ``fill_text``)."""
    return Event(
        type=EventType.ORDER_FILLED,
        user_id=user.id,
        data={
            "symbol": "ETH/BTC",
            "side": "buy",
            "filled": str(n),
            "average_price": "0.07",
            "order_id": f"ord{n:05d}",
        },
    )


def fill_text(n: int) -> str:
    return f"🟢 Filled buy {n} ETH/BTC @ 0.07\norder ord{n:05d}"


def scan_signal(symbol: str, score: float) -> Event:
    return Event(
        type=EventType.SCAN_SIGNAL,
        data={"symbol": symbol, "timeframe": "5m", "signal": "buy", "score": score},
    )


def kill_switch(reason: str) -> Event:
    return Event(
        type=EventType.KILL_SWITCH_ACTIVATED,
        data={"actor": "risk", "reason": reason, "canceled_orders": 2},
    )


def max_in_window(times: Iterable[float], seconds: float) -> int:
    """The most calls in any window of ``seconds`` (half-open, as the emulator counts)."""
    ordered = sorted(times)
    most = 0
    start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def gaps(times: Iterable[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(sorted(times))]


@asynccontextmanager
async def pipeline(
    tmp_path: Path, users: int, *, limits: FloodLimits | None = None
) -> AsyncIterator[Pipeline]:
    emulator = BotApiEmulator(limits=limits)
    gate = Gate(create_sandbox_app(emulator))
    sandbox = Served(gate, bound_socket())
    await sandbox.start()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'notify-pipeline.db'}"
    engine = make_engine(database_url)
    await upgrade(engine)
    repo = Repository(engine)
    created: list[User] = []
    try:
        for i in range(users):
            chat = FIRST_CHAT + i
            created.append(
                await repo.create_user(f"trader{i}", Role.TRADER, chat, f"{i:064d}", f"td_{i}")
            )
            await emulator.user_sends(TOKEN, SandboxUser(chat, f"Trader {i}"), "/start")
        yield Pipeline(emulator, sandbox, repo, created, gate, database_url)
    finally:
        gate.released.set()
        await sandbox.stop()
        await engine.dispose()
