"""The notifier's caching and fallbacks, with a fake repository that counts its queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiogram.types import InlineKeyboardMarkup

from tradedeck.domain.roles import Role
from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.notify.notifier import EVENT_GROUPS, GROUP_BY_EVENT, LEVELS, Notifier, render
from tradedeck.notify.sender import Priority
from tradedeck.storage.repository import Repository, User

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ADMIN = User(1, "admin", Role.ADMIN, 900, NOW)
TRADER = User(2, "trader", Role.TRADER, 111, NOW)


@dataclass
class FakeRepo:
    users: list[User]
    levels: dict[int, dict[str, str]] = field(default_factory=dict)
    user_queries: int = 0
    level_queries: int = 0
    broken: bool = False

    async def telegram_users(self) -> list[User]:
        self.user_queries += 1
        if self.broken:
            raise ConnectionError("database is down")
        return list(self.users)

    async def notification_levels(self, user_id: int) -> dict[str, str]:
        self.level_queries += 1
        if self.broken:
            raise ConnectionError("database is down")
        return dict(self.levels.get(user_id, {}))


@dataclass
class Recorder:
    sent: list[tuple[int, bool]] = field(default_factory=list)

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        disable_notification: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
        priority: Priority = Priority.HIGH,
    ) -> None:
        self.sent.append((chat_id, disable_notification))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def join(self) -> None:
        pass


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def fill(user_id: int | None) -> Event:
    data: dict[str, Any] = {"order_id": "0123456789", "symbol": "ETH/BTC", "side": "sell"}
    return Event(type=EventType.ORDER_FILLED, user_id=user_id, data=data)


def make(repo: FakeRepo, clock: Clock) -> tuple[Notifier, Recorder]:
    sender = Recorder()
    notifier = Notifier(InProcessBus(), sender, cast(Repository, repo), clock=clock)
    return notifier, sender


async def test_a_burst_of_events_costs_one_read_per_cache_period() -> None:
    repo, clock = FakeRepo([ADMIN, TRADER]), Clock()
    notifier, sender = make(repo, clock)
    for _ in range(20):
        await notifier.handle(fill(TRADER.id))
    assert (repo.user_queries, repo.level_queries) == (1, 2)
    assert len(sender.sent) == 40
    clock.now = 6.0
    await notifier.handle(fill(TRADER.id))
    assert (repo.user_queries, repo.level_queries) == (2, 4)


async def test_a_user_unknown_to_the_cache_forces_a_fresh_read() -> None:
    repo, clock = FakeRepo([ADMIN]), Clock()
    notifier, sender = make(repo, clock)
    await notifier.handle(fill(None))
    repo.users.append(TRADER)  # linked Telegram a moment ago
    await notifier.handle(fill(TRADER.id))
    assert repo.user_queries == 2
    assert sender.sent[-2:] == [(900, False), (111, False)]


async def test_a_broken_database_falls_back_to_what_was_known() -> None:
    repo, clock = FakeRepo([ADMIN, TRADER], {ADMIN.id: {"kill_switch": "silent"}}), Clock()
    notifier, sender = make(repo, clock)
    await notifier.handle(fill(TRADER.id))
    repo.broken = True
    clock.now = 60.0
    sender.sent.clear()
    await notifier.handle(Event(type=EventType.KILL_SWITCH_ACTIVATED, data={"reason": "db"}))
    assert sender.sent == [(900, True)]


async def test_unknown_levels_count_as_on_and_settings_metadata_is_complete() -> None:
    repo = FakeRepo([TRADER], {TRADER.id: {"fills": "loud"}})
    notifier, sender = make(repo, Clock())
    await notifier.handle(fill(TRADER.id))
    assert sender.sent == [(111, False)]
    assert set(GROUP_BY_EVENT.values()) == set(EVENT_GROUPS)
    assert LEVELS == ("on", "silent", "off")


def test_a_fill_shows_its_fee_to_8_places_like_the_confirmation_does() -> None:
    fills = [
        {"amount": "0.5", "price": "0.0956", "fee": "0.00004780383"},
        {"amount": "0.5", "price": "0.0956", "fee": "0.00004780383"},
    ]
    data = {"symbol": "ETH/BTC", "side": "buy", "amount": "1", "filled": "1", "fills": fills}
    text = render(Event(type=EventType.ORDER_FILLED, data=data))
    assert "\nFee 0.00009561 BTC" in text, text
    given = render(Event(type=EventType.ORDER_FILLED, data={**data, "fee": "0.5000"}))
    assert "\nFee 0.5 BTC" in given, given


def test_messages_escape_every_value_and_shorten_ids() -> None:
    text = render(
        Event(
            type=EventType.ORDER_PARTIALLY_FILLED,
            data={
                "order_id": "<script>alert(1)</script>",
                "symbol": "A&B/C<D>",
                "side": "buy",
                "amount": "1",
                "filled": "0.25",
                "average_price": "2",
                "fills": [{"amount": "0.25", "price": "2", "fee": "0.0005"}],
            },
        )
    )
    assert text == (
        "🟢 <b>Partially filled</b> buy 0.25/1 A&amp;B/C&lt;D&gt; @ 2\n"
        "Fee 0.0005 C&lt;D&gt; · order <code>&lt;script&gt;</code>"
    )
    one = render(
        Event(
            type=EventType.KILL_SWITCH_ACTIVATED,
            data={"actor": "a<b", "reason": "x", "canceled_orders": 1},
        )
    )
    assert one == "🛑 <b>Kill switch activated</b> by a&lt;b: x\n1 open order canceled"
    assert render(Event(type=EventType.RISK_BREACH, data={"detail": "loss > 5%"})) == (
        "⚠️ <b>Risk limit breached</b>\nloss &gt; 5%"
    )
