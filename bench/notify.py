"""Benchmark: latency from an event's publish to its sendMessage arriving at the Bot API.

The sandbox Bot API emulator is served over HTTP by this script; the real pipeline (bus →
notifier → TelegramSender → aiogram over HTTP) delivers fills (high priority) and risk
breaches (critical), alternating, for traders in a SQLite database, at a fixed rate of
events per second, with the in-process bus and with Redis Streams (consumer group and
delivery ledger, as in production). A message's latency runs from just before
``bus.publish`` to the emulator receiving the request.

Telegram's 30 messages/s overall would cap 100 events/s long before latency mattered,
so the sender runs with a raised overall limit (as for a bot with paid broadcasts) and
the events are spread over enough chats that none gets more than one message a second:
what is measured is the pipeline, not the queue Telegram's limits would build. Prints
figures; asserts nothing.

    python bench/notify.py [--seconds 10] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tradedeck.domain.roles import Role
from tradedeck.notify.events import Event, EventBus, EventType, InProcessBus
from tradedeck.notify.ledger import RedisDeliveryLedger
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.redis_bus import RedisStreamsBus
from tradedeck.notify.sender import TelegramSender
from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.emulator import BotApiEmulator
from tradedeck.sandbox.limits import FloodLimits
from tradedeck.sandbox.models import SandboxUser
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository, User

TOKEN = "777001:bench-notify-token"
FIRST_CHAT = 20_000
_MARK = re.compile(r"(?:ref ord|<code>)(\d{8})")


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Arrivals:
    """Wraps the emulator's entry point to time each marked message as it arrives."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.sent_at: dict[int, float] = {}
        self.latency: dict[int, float] = {}
        self.done = asyncio.Event()
        self.expected = 0
        original = emulator.call

        async def timed(token: str, method: str, params: Any) -> Any:
            if method == "sendMessage":
                found = _MARK.search(str(params.raw("text") or ""))
                if found:
                    mark = int(found.group(1))
                    self.latency[mark] = time.perf_counter() - self.sent_at[mark]
                    if len(self.latency) >= self.expected:
                        self.done.set()
            return await original(token, method, params)

        emulator.call = timed  # type: ignore[method-assign]

    def reset(self, expected: int) -> None:
        self.sent_at.clear()
        self.latency.clear()
        self.expected = expected
        self.done.clear()


def event(user: User, mark: int) -> Event:
    if mark % 2:
        return Event(
            type=EventType.RISK_BREACH,
            user_id=user.id,
            data={"symbol": "ETH/BTC", "detail": f"exposure limit, ref ord{mark:08d}"},
        )
    return Event(
        type=EventType.ORDER_FILLED,
        user_id=user.id,
        data={"symbol": "ETH/BTC", "side": "buy", "filled": "0.5", "order_id": f"{mark:08d}"},
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_case(
    kind: str,
    rate: int,
    seconds: float,
    users: list[User],
    repo: Repository,
    api: str,
    arrivals: Arrivals,
    redis_url: str,
) -> dict[str, list[float]]:
    stream = f"bench:notify:{uuid.uuid4().hex[:12]}"
    bus: EventBus
    ledger = None
    if kind == "redis":
        redis_bus = RedisStreamsBus.from_url(redis_url, stream=stream, consumer="bench")
        ledger = RedisDeliveryLedger(redis_bus.client, prefix=f"{stream}:sent:")
        bus = redis_bus
    else:
        bus = InProcessBus()
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    sender = TelegramSender(bot, global_per_second=1000)
    notifier = Notifier(bus, sender, repo, ledger=ledger)
    await notifier.start()
    await bus.start()
    total = int(rate * seconds)
    arrivals.reset(total)
    started = time.perf_counter()
    # One more chat than a second's worth of events: no chat gets two messages a second.
    chats = users[: max(rate + 1, 2)]
    for mark in range(total):
        due = started + mark / rate
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        arrivals.sent_at[mark] = time.perf_counter()
        await bus.publish(event(chats[mark % len(chats)], mark))
    try:
        await asyncio.wait_for(arrivals.done.wait(), timeout=seconds + 60)
    finally:
        await notifier.stop()
        await bus.stop()
        await bot.session.close()
        if kind == "redis":
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(redis_url)
            keys = [k async for k in client.scan_iter(match=f"{stream}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
    by_priority: dict[str, list[float]] = {"critical": [], "high": []}
    for mark, latency in arrivals.latency.items():
        by_priority["critical" if mark % 2 else "high"].append(latency)
    return by_priority


async def redis_reachable(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception:
        return False
    finally:
        await client.aclose()
    return True


async def main(seconds: float, redis_url: str) -> None:
    # Per-message debug lines on stdout would be most of what is measured.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    arrivals = Arrivals(emulator)
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_sandbox_app(emulator), log_config=None, access_log=False, log_level="error"
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    api = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade(engine)
        repo = Repository(engine)
        users = []
        for i in range(101):
            chat = FIRST_CHAT + i
            users.append(await repo.create_user(f"t{i}", Role.TRADER, chat, f"{i:064d}", f"b{i}"))
            await emulator.user_sends(TOKEN, SandboxUser(chat, f"T{i}"), "/start")
        kinds = ["in-process"]
        if await redis_reachable(redis_url):
            kinds.append("redis")
        else:
            print(f"Redis not reachable at {redis_url}: Redis Streams skipped")
        print(f"{seconds:g} s per case; latency from bus.publish to sendMessage at the Bot API")
        print(f"{'bus':<12}{'events/s':>9}  {'priority':<9}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}")
        for kind in kinds:
            for rate in (10, 100):
                result = await run_case(kind, rate, seconds, users, repo, api, arrivals, redis_url)
                for priority, values in result.items():
                    p50 = statistics.median(values) * 1000
                    p99 = percentile(values, 0.99) * 1000
                    print(
                        f"{kind:<12}{rate:>9}  {priority:<9}{len(values):>6}{p50:>9.1f}{p99:>9.1f}"
                    )
        await engine.dispose()
    server.should_exit = True
    await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.redis))
