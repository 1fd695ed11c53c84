"""FloodControl alone, on a fake clock: the arithmetic behind the 429s."""

from __future__ import annotations

from tradedeck.sandbox import FloodLimits
from tradedeck.sandbox.limits import FloodControl

from .conftest import FakeClock


def test_refused_calls_are_not_counted() -> None:
    clock = FakeClock()
    control = FloodControl(FloodLimits(per_chat_burst=1), clock)
    assert control.try_acquire(5) is None
    for _ in range(10):  # hammering while throttled must not push the wait further out
        assert control.try_acquire(5) == 1
    clock.advance(1.0)
    assert control.try_acquire(5) is None


def test_bucket_refills_at_the_configured_rate() -> None:
    clock = FakeClock()
    control = FloodControl(FloodLimits(per_chat_per_second=0.5, per_chat_burst=2), clock)
    assert [control.try_acquire(1), control.try_acquire(1)] == [None, None]
    assert control.try_acquire(1) == 2  # one token takes two seconds at 0.5/s
    clock.advance(1.0)
    assert control.try_acquire(1) == 1
    clock.advance(1.0)
    assert control.try_acquire(1) is None


def test_chats_have_separate_buckets() -> None:
    control = FloodControl(FloodLimits(per_chat_burst=1), FakeClock())
    assert [control.try_acquire(chat) for chat in (1, 2, 3)] == [None, None, None]
    assert control.try_acquire(1) == 1


def test_global_limit_spans_chats() -> None:
    clock = FakeClock()
    control = FloodControl(FloodLimits(global_per_second=3), clock)
    assert [control.try_acquire(chat) for chat in (1, 2, 3)] == [None, None, None]
    assert control.try_acquire(4) == 1
    clock.advance(1.0)
    assert control.try_acquire(4) is None


def test_group_window_reports_when_the_oldest_message_leaves_it() -> None:
    clock = FakeClock()
    control = FloodControl(FloodLimits(per_group_per_minute=2, per_chat_burst=10), clock)
    assert control.try_acquire(-5) is None
    clock.advance(10)
    assert control.try_acquire(-5) is None
    assert control.try_acquire(-5) == 50
    assert control.try_acquire(5) is None  # private chats have no per-minute window


def test_disabled_limits_admit_everything() -> None:
    control = FloodControl(FloodLimits(enabled=False), FakeClock())
    assert all(control.try_acquire(1) is None for _ in range(100))
