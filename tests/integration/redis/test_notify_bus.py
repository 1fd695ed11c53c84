"""Notifications through Redis Streams lose nothing and repeat nothing.

A real Redis at 127.0.0.1:6379 and the sandbox Bot API over HTTP: what the emulator
received is what Telegram would have. The crash is a real one: a notifier process is
SIGKILLed while some of its requests are in the air (held unanswered at the sandbox's
door), and a fresh notifier must deliver the rest, each message to each chat once.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from tests.integration.notify.harness import (
    TOKEN,
    Pipeline,
    fill,
    fill_text,
    kill_switch,
    pipeline,
    scan_signal,
)

from tradedeck.notify.events import Event, EventType
from tradedeck.notify.ledger import RedisDeliveryLedger
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.redis_bus import RedisStreamsBus
from tradedeck.notify.sender import Priority, TelegramSender
from tradedeck.sandbox.emulator import FloodLimits

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[3]
UNLIMITED = FloodLimits(enabled=False)


async def eventually(check: Callable[[], object], within: float = 30.0) -> None:
    """Poll ``check`` (sync, or returning an awaitable) until it holds: a bound on
    waiting, never a claim about speed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within

    async def holds() -> bool:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    while not await holds():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


async def pending(client: aioredis.Redis, stream: str, group: str = "notifier") -> int:
    info = await client.xpending(stream, group)
    return int(info["pending"])


async def ledger_size(client: aioredis.Redis, stream: str) -> int:
    return len([key async for key in client.scan_iter(match=f"{stream}:sent:*")])


class Node:
    """One notifier, wired as bot/runtime.py does for Redis, inside this test's loop."""

    def __init__(
        self,
        world: Pipeline,
        redis_url: str,
        stream: str,
        *,
        consumer: str = "node",
        claim_idle: float = 60.0,
        batch: bool = False,
        admin_chat: int | None = None,
    ) -> None:
        self.bus = RedisStreamsBus.from_url(
            redis_url, stream=stream, consumer=consumer, claim_idle=claim_idle
        )
        self.bot = world.bot()
        self.sender = TelegramSender(self.bot, per_chat_interval=0.0)
        self.notifier: Notifier = world.notifier(
            self.bus,
            self.sender,
            ledger=RedisDeliveryLedger(self.bus.client, prefix=f"{stream}:sent:"),
            batch_intervals={Priority.MEDIUM: 300.0} if batch else None,
            admin_chat=admin_chat,
        )

    async def start(self) -> None:
        await self.notifier.start()
        await self.bus.start()

    async def stop(self) -> None:
        await self.notifier.stop()
        await self.bus.stop()
        await self.bot.session.close()


@pytest.fixture
def stream(prefix: str) -> str:
    return prefix + "events"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Pipeline]:
    async with pipeline(tmp_path, 5, limits=UNLIMITED) as created:
        yield created


def expected(world: Pipeline, per_user: int) -> dict[int, list[str]]:
    users = len(world.users)
    return {
        world.chat_of(user): [fill_text(n * users + i) for n in range(per_user)]
        for i, user in enumerate(world.users)
    }


async def publish_fills(bus: RedisStreamsBus, world: Pipeline, per_user: int) -> None:
    for n in range(per_user):
        for i, user in enumerate(world.users):
            await bus.publish(fill(user, n * len(world.users) + i))


SIGNALS = [f"C{n}/BTC" for n in range(8)]


def signal_text(symbol: str) -> str:
    return f"🟢 Buy signal {symbol} 5m · score +0.70"


def received(world: Pipeline) -> dict[int, list[str]]:
    return {world.chat_of(user): world.texts(world.chat_of(user)) for user in world.users}


async def test_events_published_while_the_notifier_is_down_arrive_after_it_starts(
    world: Pipeline, redis_url: str, stream: str, client: aioredis.Redis
) -> None:
    publisher = RedisStreamsBus.from_url(redis_url, stream=stream)
    await publisher.start()  # an API replica: it publishes, it never reads
    await publish_fills(publisher, world, 4)
    await publisher.stop()
    assert received(world) == {chat: [] for chat in received(world)}

    node = Node(world, redis_url, stream)
    await node.start()
    try:
        want = expected(world, 4)
        await eventually(lambda: received(world) == want)
        await eventually(lambda: node.bus.handled == 20)
        assert await pending(client, stream) == 0
    finally:
        await node.stop()


@pytest.mark.parametrize("successor", ["same consumer", "another consumer"])
async def test_a_notifier_killed_mid_batch_loses_nothing_and_repeats_nothing(
    world: Pipeline, redis_url: str, stream: str, client: aioredis.Redis, successor: str
) -> None:
    # Eight market-wide signals, each for all five chats: 40 messages. The sandbox takes
    # 17 and holds the rest in the air, so at the kill some signal has reached some of
    # its chats and not others: only the ledger can tell the successor which.
    world.gate.limit = 17
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.notify.notifier_proc",
        world.database_url,
        redis_url,
        stream,
        "doomed",
        world.sandbox.url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"ready"
        publisher = RedisStreamsBus.from_url(redis_url, stream=stream)
        for symbol in SIGNALS:
            await publisher.publish(scan_signal(symbol, 0.7))
        await publisher.stop()
        await asyncio.wait_for(world.gate.holding.wait(), 30)
        # Every message the sandbox accepted is on record before the kill; what is still
        # in the air never reached it.
        await eventually(lambda: _equals(ledger_size(client, stream), world.gate.forwarded))
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert sum(len(texts) for texts in received(world).values()) == 17
    unacknowledged = await pending(client, stream)
    acknowledged = len(SIGNALS) - unacknowledged
    assert unacknowledged > 0
    assert await ledger_size(client, stream) > acknowledged * len(world.users)  # a partial one
    world.gate.released.set()

    if successor == "same consumer":  # a restart: its own pending list, read from id 0
        node = Node(world, redis_url, stream, consumer="doomed")
    else:  # another replica: takes over what the dead one left idle (XAUTOCLAIM)
        node = Node(world, redis_url, stream, consumer="heir", claim_idle=0.3)
    await node.start()
    want = {world.chat_of(user): [signal_text(s) for s in SIGNALS] for user in world.users}
    try:
        await eventually(lambda: received(world) == want)
        await eventually(lambda: _equals(pending(client, stream), 0))
    finally:
        await node.stop()
    # Every chat has every signal once, in order, and the sandbox accepted nothing more.
    assert received(world) == want
    assert len([c for c in world.sends() if c.ok]) == len(SIGNALS) * len(world.users)


async def _equals(value: Awaitable[int], target: int) -> bool:
    return await value == target


async def test_a_digest_is_acknowledged_only_once_delivered(
    world: Pipeline, redis_url: str, stream: str, client: aioredis.Redis
) -> None:
    first = world.chat_of(world.users[0])
    node = Node(world, redis_url, stream, batch=True, admin_chat=first)
    await node.start()
    try:
        for symbol, score in (("ETH/BTC", 0.7), ("LTC/BTC", 0.6), ("ADA/BTC", 0.9)):
            await node.bus.publish(scan_signal(symbol, score))
        await eventually(lambda: node.notifier.batched == 15)
        # Held in the five-minute digest: not sent, so not acknowledged either.
        assert world.texts(first) == []
        assert await pending(client, stream) == 3
        # A kill switch meanwhile reaches the admin channel at once, the digest still held.
        await node.bus.publish(kill_switch("daily drawdown"))
        await world.emulator.wait_for_message(TOKEN, first, lambda m: "Kill switch" in m.text)
        await eventually(lambda: _equals(pending(client, stream), 3))  # only it was acknowledged
        assert world.texts(first) == [world.texts(first)[0]]
        await node.notifier.flush()
        await eventually(lambda: _equals(pending(client, stream), 0))
        texts = world.texts(first)
        assert len(texts) == 2 and texts[0].startswith("🛑 Kill switch activated")
        assert texts[1].startswith("🗂 3 notifications")
        assert all(symbol in texts[1] for symbol in ("ETH/BTC", "LTC/BTC", "ADA/BTC"))
    finally:
        await node.stop()


async def test_a_failed_handling_is_redelivered_and_a_bad_entry_is_dropped(
    redis_url: str, stream: str, client: aioredis.Redis
) -> None:
    bus = RedisStreamsBus.from_url(redis_url, stream=stream, claim_idle=0.3)
    seen: list[str | None] = []

    async def flaky(event: Event) -> Awaitable[None]:
        seen.append(event.id)

        async def outcome() -> None:
            if len(seen) == 1:
                raise RuntimeError("Telegram was unreachable")

        return outcome()

    bus.subscribe(flaky)
    await client.xgroup_create(stream, "notifier", id="0", mkstream=True)
    await client.xadd(stream, {b"event": b"not json"})
    await bus.publish(Event(type=EventType.ORDER_FILLED, user_id=1))
    await bus.start()
    try:
        await eventually(lambda: bus.handled == 1)
        await eventually(lambda: _equals(pending(client, stream), 0))
    finally:
        await bus.stop()
    # The same event (same id) came back after its failed attempt; the bad entry never
    # reached the listener and was acknowledged rather than retried forever.
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0] is not None
    assert bus.failed == 1


async def test_an_event_held_in_a_digest_is_not_taken_over_by_another_consumer(
    redis_url: str, stream: str, client: aioredis.Redis
) -> None:
    # A digest may hold an event for 30 minutes; a replica must not mistake it for a dead
    # consumer's, however short the takeover delay.
    holder = RedisStreamsBus.from_url(redis_url, stream=stream, consumer="a", claim_idle=0.3)
    other = RedisStreamsBus.from_url(redis_url, stream=stream, consumer="b", claim_idle=0.3)
    held: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stolen: list[str | None] = []

    async def hold(event: Event) -> Awaitable[None]:
        return held

    async def steal(event: Event) -> None:
        stolen.append(event.id)

    holder.subscribe(hold)
    await holder.start()
    await holder.publish(Event(type=EventType.SCAN_SIGNAL))
    try:
        await eventually(lambda: holder.in_flight == 1)
        other.subscribe(steal)
        await other.start()
        await asyncio.sleep(1.5)  # five takeover delays
        assert stolen == [] and await pending(client, stream) == 1
        held.set_result(None)
        await eventually(lambda: _equals(pending(client, stream), 0))
    finally:
        await holder.stop()
        await other.stop()
    assert stolen == []
