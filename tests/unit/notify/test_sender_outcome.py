"""What ``TelegramSender.send`` promises through its future: how each message ended."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiogram.exceptions import TelegramForbiddenError, TelegramNetworkError

from tests.unit.notify.test_telegram_sender import METHOD, FakeBot, FakeClock, make_sender
from tradedeck.notify.sender import Outcome


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (a bounded number of turns)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_the_future_tells_delivered_rejected_and_abandoned_apart() -> None:
    clock = FakeClock()
    bot = FakeBot(clock)
    bot.script[2] = [TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user")]
    bot.script[3] = [TelegramNetworkError(METHOD, "connection reset")] * 2
    sender = make_sender(bot, clock, max_attempts=2)
    delivered = await sender.send(1, "hello")
    rejected = await sender.send(2, "hello")
    abandoned = await sender.send(3, "hello")
    await sender.start()
    outcomes = await asyncio.wait_for(asyncio.gather(delivered, rejected, abandoned), 10)
    await sender.stop()
    assert list(outcomes) == [Outcome.DELIVERED, Outcome.REJECTED, Outcome.ABANDONED]
    assert (sender.sent, sender.dropped) == (1, 2)


async def test_a_long_text_is_delivered_only_when_its_last_part_is() -> None:
    clock = FakeClock()
    bot = FakeBot(clock)
    gate = asyncio.Event()
    bot.script[1] = [None, gate]  # the second part hangs until released
    sender = make_sender(bot, clock, per_chat_interval=0.0)
    outcome = await sender.send(1, "\n".join(["x" * 100] * 60))
    await sender.start()
    await until(lambda: len(bot.calls) >= 2)
    assert not outcome.done()
    gate.set()
    assert await asyncio.wait_for(outcome, 10) is Outcome.DELIVERED
    await sender.stop()


async def test_messages_still_queued_at_stop_and_after_it_are_abandoned() -> None:
    clock = FakeClock()
    bot = FakeBot(clock)
    hang = asyncio.Event()
    bot.script[1] = [hang]
    sender = make_sender(bot, clock)
    await sender.start()
    in_the_air = await sender.send(1, "first")
    queued = await sender.send(1, "second")
    await until(lambda: bool(bot.calls))
    await sender.stop(drain_timeout=0.01)
    late = await sender.send(1, "after stop")
    assert [in_the_air.result(), queued.result(), late.result()] == [Outcome.ABANDONED] * 3
