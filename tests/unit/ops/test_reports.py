"""Periodic reports: what the hourly balance and the daily PnL say, who gets them (only
those who switched them on; off by default), and when (the turn of the hour, 00:00 UTC
for the day that ended; once each, and nothing for the past on a first start)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.types import InlineKeyboardMarkup

from tradedeck.domain.balances import Balance
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.roles import Actor, Role
from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.sender import Priority
from tradedeck.ops.reports import ReportService, daily_text, hourly_text
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.repository import Repository
from tradedeck.trading.portfolio import DailyPnl
from tradedeck.trading.valuation import Equity

DAY = date(2026, 3, 1)
EQUITY = Equity("USDT", Decimal("10500.5"), {"USDT": Decimal(10000), "BTC": Decimal("500.5")}, ())
BALANCES = [
    Balance("BTC", Decimal("0.01"), Decimal("0.001")),
    Balance("USDT", Decimal(10000)),
]


@dataclass
class Portfolio:
    days_asked: list[int] = field(default_factory=list)

    def balances(self, actor: Actor) -> tuple[list[Balance], Equity]:
        return BALANCES, EQUITY

    async def daily(self, actor: Actor, days: int = 30) -> list[DailyPnl]:
        self.days_asked.append(days)
        return [
            DailyPnl(DAY, Decimal("12.5"), Decimal("0.75"), 3),
            DailyPnl(date(2026, 3, 2), Decimal(-1), Decimal("0.1"), 1),
        ]


@dataclass
class Bus:
    events: list[Event] = field(default_factory=list)

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class World:
    repo: Repository
    reports: ReportService
    bus: Bus
    portfolio: Portfolio
    alice: Actor
    bob: Actor


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}")
    await upgrade(engine)
    repo = Repository(engine)
    alice = await repo.create_user("alice", Role.VIEWER, 111, "a" * 64, "td_a")
    bob = await repo.create_user("bob", Role.TRADER, 222, "b" * 64, "td_b")
    await repo.record_day_equity(DAY, "USDT", Decimal(10000))
    bus, portfolio = Bus(), Portfolio()
    reports = ReportService(repo, portfolio, bus, today=lambda: date(2026, 3, 2))  # type: ignore[arg-type]
    try:
        yield World(
            repo,
            reports,
            bus,
            portfolio,
            Actor("alice", Role.VIEWER, "telegram", alice.id),
            Actor("bob", Role.TRADER, "telegram", bob.id),
        )
    finally:
        await engine.dispose()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, 30, tzinfo=UTC)


def test_hourly_report_content() -> None:
    text = hourly_text(at(1, 11), BALANCES, EQUITY)
    assert text.startswith("💼 <b>Hourly balance</b> · 2026-03-01 11:00 UTC")
    assert "Equity <b>10500.5 USDT</b>" in text
    assert "<pre>" in text and "≈USDT" in text
    assert "BTC     0.01     0.001  500.5\nUSDT   10000         0  10000" in text
    odd = Equity("A&B", Decimal(1), {}, ("X<Y",))
    escaped = hourly_text(at(1, 11), [Balance("X<Y", Decimal(1))], odd)
    assert "A&amp;B" in escaped and "No price for: X&lt;Y" in escaped and "X<Y" not in escaped


def test_daily_report_content() -> None:
    figures = DailyPnl(DAY, Decimal("12.5"), Decimal("0.75"), 3)
    text = daily_text(figures, "USDT", Decimal(10000), Decimal("10500.5"))
    assert text == (
        "📅 <b>Daily PnL</b> · 2026-03-01 (UTC)\n"
        "Realized: 🟢 +12.5 USDT\n"
        "Fees: 0.75 USDT · fills: 3\n"
        "Equity: 10000 → 10500.5 USDT (🟢 +500.5)"
    )
    loss = daily_text(DailyPnl(DAY, Decimal(-2), Decimal(0), 0), "USDT", None, Decimal(9))
    assert "Realized: 🔴 -2 USDT" in loss and "Equity now: 9 USDT" in loss


async def test_reports_are_off_by_default_and_sent_only_when_chosen(world: World) -> None:
    assert await world.reports.choices(world.alice) == {"hourly": False, "daily": False}
    assert await world.reports.run(at(1, 10, 5)) == 0  # a first start: nothing for the past
    assert await world.reports.run(at(1, 11)) == 0  # due, but nobody asked
    assert world.bus.events == []

    chosen = await world.reports.choose(world.alice, "hourly", True)
    assert chosen == {"hourly": True, "daily": False}
    assert await world.reports.run(at(1, 11, 30)) == 0  # 11:00 was reported already
    assert await world.reports.run(at(1, 12, 1)) == 1
    (event,) = world.bus.events
    assert event.type is EventType.REPORT and event.user_id == world.alice.user_id
    assert event.data["kind"] == "hourly" and "2026-03-01 12:00 UTC" in event.data["text"]
    assert await world.reports.run(at(1, 12, 2)) == 0  # once per hour

    await world.reports.choose(world.alice, "hourly", False)
    await world.reports.choose(world.bob, "daily", True)
    world.bus.events.clear()
    assert await world.reports.run(at(2, 0)) == 1  # 00:00 UTC: the day that ended
    (daily,) = world.bus.events
    assert daily.user_id == world.bob.user_id and daily.data["kind"] == "daily"
    assert "Daily PnL</b> · 2026-03-01" in daily.data["text"]
    assert "Realized: 🟢 +12.5 USDT" in daily.data["text"]
    assert "Equity: 10000 → 10500.5 USDT" in daily.data["text"]
    assert world.portfolio.days_asked == [2]  # yesterday and today, from the portfolio
    assert await world.reports.run(at(2, 0, 1)) == 0


async def test_the_last_report_survives_a_restart(world: World) -> None:
    await world.reports.choose(world.alice, "hourly", True)
    await world.reports.run(at(1, 9))
    assert await world.reports.run(at(1, 10)) == 1
    again = ReportService(world.repo, world.portfolio, world.bus)  # type: ignore[arg-type]
    assert await again.run(at(1, 10, 30)) == 0
    assert await again.run(at(1, 11)) == 1


async def test_bad_choices_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        await world.reports.choose(world.alice, "weekly", True)
    with pytest.raises(InvalidInput):
        await world.reports.choices(Actor("script", Role.VIEWER, "api"))
    assert await world.reports.choices(world.alice) == {"hourly": False, "daily": False}


@dataclass
class Sender:
    sent: list[tuple[int, str, Priority]] = field(default_factory=list)

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        disable_notification: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
        priority: Priority = Priority.HIGH,
    ) -> None:
        self.sent.append((chat_id, text, priority))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def join(self) -> None:
        pass


async def test_a_report_reaches_its_user_alone_at_once(world: World) -> None:
    bus, sender = InProcessBus(), Sender()
    notifier = Notifier(bus, sender, world.repo)  # type: ignore[arg-type]
    await world.repo.ensure_telegram_admin(900)
    await notifier.start()
    await bus.start()
    try:
        event = Event(
            type=EventType.REPORT, user_id=world.bob.user_id, data={"text": "<b>report</b>"}
        )
        await bus.publish(event)
        await bus.join()
    finally:
        await bus.stop()
        await notifier.stop()
    assert sender.sent == [(222, "<b>report</b>", Priority.HIGH)]
