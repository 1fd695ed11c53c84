"""A periodic loop's sleep: it ends at the next round, or at once when the loop is told
to stop, never by waiting out a long interval."""

from __future__ import annotations

import asyncio

from tradedeck.ops.waiting import wait_or_stop


async def test_an_interval_without_a_stop_ends_with_false() -> None:
    assert await wait_or_stop(asyncio.Event(), 0.01) is False


async def test_a_stop_during_a_long_interval_ends_the_wait_with_true() -> None:
    stop = asyncio.Event()
    waiting = asyncio.create_task(wait_or_stop(stop, 3600))
    await asyncio.sleep(0)
    stop.set()
    async with asyncio.timeout(10):  # an hour's interval would fail the test here
        assert await waiting is True


async def test_a_stop_set_before_the_wait_returns_true_at_once() -> None:
    stop = asyncio.Event()
    stop.set()
    async with asyncio.timeout(10):
        assert await wait_or_stop(stop, 3600) is True
