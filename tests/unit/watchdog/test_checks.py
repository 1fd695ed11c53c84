"""The watchdog's rules: when each trips, and that its reason names the cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradedeck.storage.heartbeats import Beat
from tradedeck.watchdog.checks import drawdown_trigger, error_rate_trigger, heartbeat_trigger
from tradedeck.watchdog.status import WatchdogReport

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def beat_ago(seconds: float, name: str = "main", **detail: object) -> Beat:
    return Beat(name, "host", NOW - timedelta(seconds=seconds), detail)


def test_a_stale_heartbeat_trips_with_its_age_and_the_timeout() -> None:
    trigger = heartbeat_trigger(beat_ago(17.2), NOW, 15)
    assert trigger is not None and trigger.cause == "heartbeat"
    assert trigger.reason == "watchdog: heartbeat 17 s old (timeout 15 s)"


def test_a_fresh_heartbeat_or_none_at_all_does_not_trip() -> None:
    assert heartbeat_trigger(beat_ago(14.9), NOW, 15) is None
    assert heartbeat_trigger(beat_ago(15), NOW, 15) is None
    assert heartbeat_trigger(None, NOW, 15) is None  # never ran against this store


def test_a_clean_stop_does_not_trip_however_old() -> None:
    assert heartbeat_trigger(beat_ago(3600, stopped=True), NOW, 15) is None
    assert heartbeat_trigger(beat_ago(3600, stopped=False), NOW, 15) is not None


def test_a_beat_from_a_clock_ahead_is_not_negative() -> None:
    assert beat_ago(-3).age(NOW) == 0


def test_drawdown_trips_at_the_limit() -> None:
    trigger = drawdown_trigger(Decimal(100), Decimal(90), Decimal(10))
    assert trigger is not None and trigger.cause == "drawdown"
    assert trigger.reason == "watchdog: daily drawdown 10.00% reached the limit of 10%"
    assert drawdown_trigger(Decimal(100), Decimal("90.01"), Decimal(10)) is None
    assert drawdown_trigger(Decimal(100), Decimal(120), Decimal(10)) is None


def test_drawdown_needs_a_day_start_and_an_equity() -> None:
    assert drawdown_trigger(None, Decimal(1), Decimal(10)) is None
    assert drawdown_trigger(Decimal(0), Decimal(0), Decimal(10)) is None
    assert drawdown_trigger(Decimal(1), None, Decimal(10)) is None


def test_rejections_trip_only_above_the_limit() -> None:
    assert error_rate_trigger(20, 20) is None
    trigger = error_rate_trigger(21, 20)
    assert trigger is not None and trigger.cause == "error_rate"
    assert trigger.reason == "watchdog: 21 orders rejected in the last minute (limit 20 per minute)"


def test_status_is_healthy_only_with_a_recent_watchdog_beat() -> None:
    fresh = WatchdogReport(beat_ago(2, "watchdog:a", interval=1.0, holder=True), None, NOW)
    assert fresh.healthy
    assert "alive" in fresh.lines()[0] and "lease holder" in fresh.lines()[0]
    assert fresh.lines()[1].startswith("trading heartbeat age: never seen")
    stale = WatchdogReport(beat_ago(30, "watchdog:a", interval=1.0), beat_ago(1), NOW)
    assert not stale.healthy and "NOT RUNNING" in stale.lines()[0]
    slow = WatchdogReport(beat_ago(25, "watchdog:a", interval=10.0), None, NOW)
    assert slow.healthy  # a watchdog checking every 10 s is alive 25 s after its beat
    missing = WatchdogReport(None, beat_ago(1), NOW)
    assert not missing.healthy and missing.lines()[0] == "watchdog: never ran against this store"
