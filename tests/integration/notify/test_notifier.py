"""Who hears about what: the notifier over a real database and the in-process bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.types import InlineKeyboardMarkup

from tradedeck.domain.orders import Fill, Order, OrderStatus, OrderType, Side
from tradedeck.domain.roles import Role
from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.sender import Priority
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository, User
from tradedeck.trading.order_manager import order_summary


@dataclass
class Sent:
    chat_id: int
    text: str
    disable_notification: bool
    priority: Priority


@dataclass
class FakeSender:
    sent: list[Sent] = field(default_factory=list)
    started: bool = False
    stopped: bool = False

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
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def join(self) -> None:
        pass

    def to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]


@dataclass
class World:
    repo: Repository
    bus: InProcessBus
    sender: FakeSender
    notifier: Notifier
    owner: User
    bystander: User
    admin: User
    quiet_admin: User

    async def publish(self, *events: Event) -> None:
        for event in events:
            await self.bus.publish(event)
        await self.bus.join()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}")
    await upgrade(engine)
    repo = Repository(engine)
    owner = await repo.create_user("owner", Role.TRADER, 111, "a" * 64, "td_a")
    bystander = await repo.create_user("bystander", Role.TRADER, 222, "b" * 64, "td_b")
    await repo.create_user("offline-admin", Role.ADMIN, None, "c" * 64, "td_c")
    await repo.create_user("gone-admin", Role.ADMIN, 333, "d" * 64, "td_d")
    assert await repo.revoke_user("gone-admin")
    admin = await repo.ensure_telegram_admin(900)
    quiet_admin = await repo.create_user("quiet", Role.ADMIN, 901, "e" * 64, "td_e")
    await repo.set_notification_level(owner.id, "fills", "silent")
    await repo.set_notification_level(bystander.id, "orders", "off")
    for group in ("fills", "orders", "kill_switch"):
        await repo.set_notification_level(quiet_admin.id, group, "off")

    bus = InProcessBus()
    sender = FakeSender()
    notifier = Notifier(bus, sender, repo)
    await notifier.start()
    await bus.start()
    try:
        yield World(repo, bus, sender, notifier, owner, bystander, admin, quiet_admin)
    finally:
        await bus.stop()
        await notifier.stop()
        await engine.dispose()


def filled_order(user_id: int) -> Event:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    order = Order(
        id="ab12cd34-0000-4000-8000-000000000000",
        symbol="ETH/BTC",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.5"),
        created_at=now,
        updated_at=now,
        user_id=user_id,
        status=OrderStatus.FILLED,
        filled=Decimal("0.5"),
        average_price=Decimal("0.0712"),
    )
    fill = Fill(
        "f1", order.id, "ETH/BTC", Side.BUY, Decimal("0.5"), Decimal("0.0712"),
        Decimal("0.0000356"), "BTC", now, user_id,
    )  # fmt: skip
    return Event(type=EventType.ORDER_FILLED, user_id=user_id, data=order_summary(order, [fill]))


async def test_a_fill_reaches_its_owner_and_the_admins_by_their_levels(world: World) -> None:
    assert world.sender.started
    await world.publish(filled_order(world.owner.id))
    expected = (
        "🟢 <b>Filled</b> buy 0.5 ETH/BTC @ 0.0712\nFee 0.0000356 BTC · order <code>ab12cd34</code>"
    )
    assert [(s.chat_id, s.disable_notification) for s in world.sender.sent] == [
        (111, True),  # the owner chose "silent" for fills
        (900, False),
    ]
    assert all(s.text == expected and s.priority is Priority.HIGH for s in world.sender.sent)


async def test_off_means_nothing_and_strangers_hear_nothing(world: World) -> None:
    placed = Event(
        type=EventType.ORDER_PLACED,
        user_id=world.bystander.id,
        data={"order_id": "ffff0000aaaa", "symbol": "LTC/BTC", "side": "sell",
              "type": "limit", "amount": "2", "filled": "0"},
    )  # fmt: skip
    rejected = Event(
        type=EventType.ORDER_REJECTED,
        user_id=world.bystander.id,
        data={"symbol": "LTC/BTC", "side": "buy", "type": "market", "amount": "9",
              "reason": "insufficient_funds", "detail": "needs 9 <BTC> & more"},
    )  # fmt: skip
    await world.publish(placed, rejected, Event(type=EventType.SIGNAL_RECEIVED))
    # The placement: the bystander and the quiet admin turned "orders" off. The
    # rejection: everyone concerned, as nobody turned "rejections" off.
    assert [s.chat_id for s in world.sender.sent] == [900, 222, 900, 901]
    assert world.sender.to(111) == []
    assert world.sender.to(222)[0].text == (
        "⛔ <b>Order rejected</b> market buy 9 LTC/BTC\nneeds 9 &lt;BTC&gt; &amp; more"
    )


async def test_admins_always_hear_about_the_kill_switch(world: World) -> None:
    await world.publish(
        Event(
            type=EventType.KILL_SWITCH_ACTIVATED,
            data={"reason": "drawdown <10%>", "actor": "system", "canceled_orders": 3},
        ),
        Event(type=EventType.KILL_SWITCH_RESUMED, data={"actor": "tg900"}),
    )
    sent = [(s.chat_id, s.disable_notification, s.priority) for s in world.sender.sent]
    assert sent == [
        (900, False, Priority.CRITICAL),
        (901, True, Priority.CRITICAL),  # "off" turned into "silent" for an admin
        (900, False, Priority.CRITICAL),
        (901, True, Priority.CRITICAL),
    ]
    assert world.sender.to(900)[0].text == (
        "🛑 <b>Kill switch activated</b> by system: drawdown &lt;10%&gt;\n3 open orders canceled"
    )
    assert world.sender.to(900)[1].text == "✅ <b>Trading resumed</b> by tg900"
    assert world.sender.to(333) == []  # a revoked admin is nobody


async def test_settings_changes_count_after_invalidate(world: World) -> None:
    await world.publish(filled_order(world.owner.id))
    await world.repo.set_notification_level(world.owner.id, "fills", "off")
    world.notifier.invalidate(world.owner.id)
    world.sender.sent.clear()
    await world.publish(filled_order(world.owner.id))
    assert [s.chat_id for s in world.sender.sent] == [900]


async def test_security_reports_go_to_every_admin(world: World) -> None:
    await world.notifier.notify_admins("⚠️ <b>Unknown user</b>", priority=Priority.CRITICAL)
    assert [(s.chat_id, s.priority) for s in world.sender.sent] == [
        (900, Priority.CRITICAL),
        (901, Priority.CRITICAL),
    ]


async def test_stop_drains_the_sender_and_ignores_later_events(world: World) -> None:
    await world.notifier.stop()
    assert world.sender.stopped
    await world.publish(filled_order(world.owner.id))
    assert world.sender.sent == []
