"""A market started standing still (tests drive its candles) stays where it stood, across a
restart too: the replay offset saved at stop must not run ahead of the delivered candles."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import make_settings
from tradedeck.domain.candles import Candle
from tradedeck.services import start_services


async def test_a_market_standing_still_resumes_where_it_stood(
    tmp_path: Path, database_url: str
) -> None:
    # A million replayed seconds per real one: a millisecond of wall time is three 5m candles.
    settings = make_settings(tmp_path, database_url, replay_speed=1_000_000)
    seen: list[Candle | None] = []
    for _ in range(2):
        services = await start_services(settings, start_feed=False)
        try:
            seen.append(services.orders.exchange.last_candle("ETH/BTC"))
            await asyncio.sleep(0.05)
        finally:
            await services.stop()
    before, after = seen
    assert before is not None and after == before
