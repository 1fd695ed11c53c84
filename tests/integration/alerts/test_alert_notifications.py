"""A fired price alert reaches its owner alone (not the admins), at the owner's level for
the "alerts" group, at once (high priority), in words the owner can read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram.types import InlineKeyboardMarkup

from tradedeck.domain.roles import Role
from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.notify.notifier import EVENT_GROUPS, Notifier
from tradedeck.notify.sender import Priority
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository, User


@dataclass
class Sent:
    chat_id: int
    text: str
    silent: bool
    priority: Priority


@dataclass
class Sender:
    sent: list[Sent] = field(default_factory=list)

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        disable_notification: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
        priority: Priority = Priority.HIGH,
    ) -> None:
        self.sent.append(Sent(chat_id, text, disable_notification, priority))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def join(self) -> None:
        pass


@dataclass
class World:
    repo: Repository
    bus: InProcessBus
    sender: Sender
    notifier: Notifier
    owner: User
    other: User


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}")
    await upgrade(engine)
    repo = Repository(engine)
    owner = await repo.create_user("owner", Role.VIEWER, 111, "a" * 64, "td_a")
    other = await repo.create_user("other", Role.TRADER, 222, "b" * 64, "td_b")
    await repo.ensure_telegram_admin(900)
    bus, sender = InProcessBus(), Sender()
    notifier = Notifier(bus, sender, repo, cache_ttl=0)  # type: ignore[arg-type]
    await notifier.start()
    await bus.start()
    try:
        yield World(repo, bus, sender, notifier, owner, other)
    finally:
        await bus.stop()
        await notifier.stop()
        await engine.dispose()


def fired(user_id: int) -> Event:
    return Event(
        type=EventType.PRICE_ALERT,
        at=datetime(2026, 3, 1, 12, 34, tzinfo=UTC),
        user_id=user_id,
        data={"alert_id": 7, "symbol": "ETH/BTC", "op": ">", "level": "0.09", "price": "0.0902"},
    )


async def test_only_the_owner_hears_at_once(world: World) -> None:
    assert "alerts" in EVENT_GROUPS  # the /settings screen lists the group
    await world.bus.publish(fired(world.owner.id))
    await world.bus.join()
    assert [(s.chat_id, s.silent, s.priority) for s in world.sender.sent] == [
        (111, False, Priority.HIGH)
    ]
    assert world.sender.sent[0].text == (
        "🔔 <b>Price alert</b> ETH/BTC &gt; 0.09\nPrice 0.0902 · 2026-03-01 12:34 UTC · alert #7"
    )


async def test_the_owners_level_counts(world: World) -> None:
    await world.repo.set_notification_level(world.owner.id, "alerts", "silent")
    await world.repo.set_notification_level(world.other.id, "alerts", "off")
    await world.bus.publish(fired(world.owner.id))
    await world.bus.publish(fired(world.other.id))
    await world.bus.join()
    assert [(s.chat_id, s.silent) for s in world.sender.sent] == [(111, True)]
