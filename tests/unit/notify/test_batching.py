"""Priorities and digests: what goes out at once, what waits, and what a digest says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from aiogram.types import InlineKeyboardMarkup

from tradedeck.domain.roles import Role
from tradedeck.notify.batching import Batcher, digest
from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.notify.ledger import MemoryDeliveryLedger
from tradedeck.notify.notifier import Notifier, Undelivered
from tradedeck.notify.sender import Outcome, Priority
from tradedeck.storage.repository import Repository, User


@dataclass
class Sent:
    chat_id: int
    text: str
    silent: bool
    priority: Priority
    outcome: asyncio.Future[Outcome]


@dataclass
class RecordingSender:
    """Records sends and leaves each outcome to the test (``settle``)."""

    sent: list[Sent] = field(default_factory=list)

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        disable_notification: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
        priority: Priority = Priority.HIGH,
    ) -> asyncio.Future[Outcome]:
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.sent.append(Sent(chat_id, text, disable_notification, priority, outcome))
        return outcome

    def settle(self, outcome: Outcome = Outcome.DELIVERED) -> None:
        for sent in self.sent:
            if not sent.outcome.done():
                sent.outcome.set_result(outcome)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def join(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def user(uid: int, role: Role, telegram_id: int) -> User:
    return User(uid, f"u{uid}", role, telegram_id, datetime(2026, 1, 1, tzinfo=UTC))


@dataclass
class FakeRepo:
    users: list[User]

    async def telegram_users(self) -> list[User]:
        return self.users

    async def notification_levels(self, user_id: int) -> dict[str, str]:
        return {"scan": "silent"} if user_id == 2 else {}


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


USERS = [user(1, Role.ADMIN, 100), user(2, Role.TRADER, 200), user(3, Role.TRADER, 300)]


def scan(symbol: str) -> Event:
    return Event(type=EventType.SCAN_SIGNAL, data={"symbol": symbol, "signal": "buy"})


def make_notifier(sender: RecordingSender, **options: object) -> Notifier:
    return Notifier(
        InProcessBus(),
        sender,
        cast(Repository, FakeRepo(USERS)),
        batch_intervals={Priority.MEDIUM: 300.0, Priority.LOW: 1800.0},
        **options,  # type: ignore[arg-type]
    )


async def test_scanner_signals_wait_for_one_digest_per_chat() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender)
    for symbol in ("ETH/BTC", "LTC/BTC", "ADA/BTC"):
        await notifier.handle(scan(symbol))
    assert sender.sent == [] and notifier.batched == 9
    await notifier.flush()
    assert sorted(s.chat_id for s in sender.sent) == [100, 200, 300]
    for sent in sender.sent:
        assert sent.text.startswith("🗂 <b>3 notifications</b> from the last 5 min\n\n")
        assert [sym in sent.text for sym in ("ETH/BTC", "LTC/BTC", "ADA/BTC")] == [True] * 3
        assert sent.priority is Priority.MEDIUM
        # Silent only where the user chose silent for every entry in it.
        assert sent.silent is (sent.chat_id == 200)


async def test_a_fill_and_a_kill_switch_go_at_once_while_a_digest_is_held() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender)
    await notifier.handle(scan("ETH/BTC"))
    await notifier.handle(Event(type=EventType.KILL_SWITCH_ACTIVATED, data={"actor": "risk"}))
    await notifier.handle(Event(type=EventType.ORDER_FILLED, user_id=2, data={"side": "buy"}))
    assert [(s.chat_id, s.priority) for s in sender.sent] == [
        (100, Priority.CRITICAL),
        (100, Priority.HIGH),
        (200, Priority.HIGH),
    ]
    assert notifier.batched == 3


async def test_the_completion_ends_only_when_the_digest_is_delivered() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender)
    completion = await notifier.handle(scan("ETH/BTC").model_copy(update={"id": "1-0"}))
    assert completion is not None
    await notifier.flush()
    await asyncio.sleep(0)
    assert not asyncio.ensure_future(completion).done()
    sender.settle(Outcome.DELIVERED)
    await asyncio.wait_for(completion, 5)


async def test_an_abandoned_message_fails_the_completion_a_rejected_one_does_not() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender)
    fill = Event(type=EventType.ORDER_FILLED, user_id=2, id="5-0")
    abandoned = await notifier.handle(fill)
    rejected = await notifier.handle(fill.model_copy(update={"id": "6-0"}))
    assert abandoned is not None and rejected is not None
    sender.sent[0].outcome.set_result(Outcome.DELIVERED)  # the admin's copy
    sender.sent[1].outcome.set_result(Outcome.ABANDONED)
    sender.settle(Outcome.REJECTED)
    with pytest.raises(Undelivered):
        await abandoned
    await rejected  # Telegram refused for good: retrying would not help, so it is done


async def test_a_redelivered_event_skips_the_chats_that_got_it() -> None:
    sender = RecordingSender()
    ledger = MemoryDeliveryLedger()
    notifier = make_notifier(sender, ledger=ledger)
    fill = Event(type=EventType.ORDER_FILLED, user_id=2, id="7-0")
    first = await notifier.handle(fill)
    assert first is not None
    sender.sent[0].outcome.set_result(Outcome.DELIVERED)  # admin 100 got it
    sender.sent[1].outcome.set_result(Outcome.ABANDONED)  # owner 200 did not
    with pytest.raises(Undelivered):
        await first
    again = await notifier.handle(fill)
    assert again is not None
    assert [s.chat_id for s in sender.sent[2:]] == [200]
    sender.settle()
    await again
    assert len(ledger) == 2


async def test_security_events_go_to_the_admin_channel_when_there_is_one() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender, admin_chat=-100500)
    await notifier.notify_admins("⚠️ <b>Unknown Telegram user</b>")
    await notifier.handle(Event(type=EventType.KILL_SWITCH_ACTIVATED, data={"actor": "root"}))
    await notifier.handle(Event(type=EventType.SYSTEM_ALERT, data={"message": "feed down"}))
    assert [(s.chat_id, s.text.split("</b>")[0]) for s in sender.sent] == [
        (-100500, "⚠️ <b>Unknown Telegram user"),
        (100, "🛑 <b>Kill switch activated"),  # the admin still hears it by their level
        (-100500, "🛑 <b>Kill switch activated"),
        (-100500, "🚨 <b>System alert"),
    ]


async def test_without_an_admin_channel_admins_get_security_events_privately() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender)
    await notifier.notify_admins("⚠️ <b>Rate limit</b> breached by <code>200</code>")
    await notifier.handle(Event(type=EventType.SYSTEM_INFO, data={"message": "restarted"}))
    assert [s.chat_id for s in sender.sent] == [100]
    assert notifier.batched == 1  # informational news waits for the 30-minute digest


async def test_a_stopped_notifier_keeps_durable_events_for_its_successor() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender)
    await notifier.stop()
    assert await notifier.handle(scan("ETH/BTC")) is None  # in-process: nothing to keep
    completion = await notifier.handle(scan("ETH/BTC").model_copy(update={"id": "9-0"}))
    assert completion is not None
    with pytest.raises(Undelivered):
        await completion
    assert sender.sent == []


async def test_a_digest_window_opens_with_its_first_entry_and_closes_on_time() -> None:
    clock = FakeClock()
    sender = RecordingSender()
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock.now += seconds
        await asyncio.sleep(0)

    batcher = Batcher(sender, {Priority.MEDIUM: 300.0}, clock=clock, sleep=sleep)
    await batcher.start()
    clock.now = 10.0
    batcher.add(1, "first", silent=False, priority=Priority.MEDIUM)
    clock.now = 100.0
    batcher.add(1, "second", silent=False, priority=Priority.MEDIUM)
    await until(lambda: bool(sender.sent))
    await batcher.stop()
    assert clock.now == pytest.approx(310.0)
    assert [s.text for s in sender.sent] == [digest(["first", "second"], 300.0)]


def test_a_single_entry_is_sent_as_it_is_and_windows_read_naturally() -> None:
    assert digest(["🟢 <b>Buy</b>"], 300) == "🟢 <b>Buy</b>"
    assert "from the last 30 min" in digest(["a", "b"], 1800)
    assert "from the last hour" in digest(["a", "b"], 3600)
    assert "from the last 45 s" in digest(["a", "b"], 45)


def test_a_priority_sent_at_once_cannot_be_batched() -> None:
    batcher = Batcher(RecordingSender(), {Priority.LOW: 60.0})
    assert batcher.batches(Priority.LOW) and not batcher.batches(Priority.CRITICAL)
    with pytest.raises(ValueError, match="not batched"):
        batcher.add(1, "x", silent=False, priority=Priority.HIGH)


async def test_a_replayed_event_older_than_the_ledger_remembers_is_dropped() -> None:
    sender = RecordingSender()
    notifier = make_notifier(sender, max_age=3600.0)
    stale = Event(
        type=EventType.ORDER_FILLED,
        user_id=2,
        id="3-0",
        at=datetime.now(UTC) - timedelta(hours=2),
    )
    assert await notifier.handle(stale) is None  # acknowledged as handled, nothing sent
    assert sender.sent == []
    fresh = await notifier.handle(stale.model_copy(update={"at": datetime.now(UTC)}))
    assert fresh is not None and [s.chat_id for s in sender.sent] == [100, 200]
    # The in-process bus replays nothing, so its events are never too old to send.
    assert await notifier.handle(stale.model_copy(update={"id": None})) is not None
