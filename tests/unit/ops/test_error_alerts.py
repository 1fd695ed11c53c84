"""Errors reach the admins' phones once per kind per quiet period, with a count, and
never about the notification path itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from tradedeck.notify.events import Event, EventType, InProcessBus
from tradedeck.ops.error_alerts import ErrorAlerts
from tradedeck.ops.log_buffer import LogBuffer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorded(InProcessBus):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    def messages(self) -> list[str]:
        assert all(e.type is EventType.SYSTEM_ALERT for e in self.events)
        return [f"{e.data['component']} | {e.data['message']}" for e in self.events]


@pytest.fixture
def logs(production_logging: None) -> Iterator[LogBuffer]:
    buffer = LogBuffer.install()
    yield buffer
    buffer.uninstall()


async def test_one_push_per_kind_then_the_count_when_the_quiet_period_ends(
    logs: LogBuffer,
) -> None:
    bus, clock = Recorded(), Clock()
    alerts = ErrorAlerts(logs, bus, quiet_seconds=600, clock=clock)
    feed = structlog.get_logger("tradedeck.marketdata")
    assert await alerts.check() == 0

    feed.error("feed_failed", symbol="ETH/BTC")
    feed.error("feed_failed", symbol="LTC/BTC")
    try:
        raise ConnectionError("exchange unreachable")
    except ConnectionError:
        structlog.get_logger("tradedeck.jobs").exception("job_failed", job="scan")
    assert await alerts.check() == 2
    assert sorted(bus.messages()) == [
        "tradedeck.jobs | job_failed: ConnectionError: exchange unreachable",
        "tradedeck.marketdata | feed_failed ×2: symbol=LTC/BTC",
    ]

    bus.events.clear()
    for _ in range(3):
        feed.error("feed_failed", symbol="ETH/BTC")
    clock.now += 60
    assert await alerts.check() == 0  # quiet: held
    clock.now += 600
    assert await alerts.check() == 1
    assert bus.messages() == [
        "tradedeck.marketdata | feed_failed ×3 more in the last 10 min (see /errors)"
    ]

    bus.events.clear()
    clock.now += 601
    feed.error("feed_failed", symbol="ADA/BTC")
    assert await alerts.check() == 1
    assert bus.messages() == ["tradedeck.marketdata | feed_failed: symbol=ADA/BTC"]
    assert await alerts.check() == 0  # nothing new


async def test_errors_of_the_notification_path_are_not_pushed(logs: LogBuffer) -> None:
    bus = Recorded()
    alerts = ErrorAlerts(logs, bus)
    structlog.get_logger("tradedeck.notify.sender").error("telegram_send_failed", chat_id=1)
    structlog.get_logger("aiogram.dispatcher").error("Cause exception while process update")
    structlog.get_logger("tradedeck.info").info("not an error")
    assert await alerts.check() == 0 and bus.events == []
