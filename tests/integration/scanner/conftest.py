"""Helpers for scanner tests: the core with bundled candles written to its database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tradedeck.marketdata.catalog import load_bundled_catalog, load_bundled_series
from tradedeck.services import Services, start_services
from tradedeck.storage.repository import Repository

MARKETS = ["ETH/BTC", "LTC/BTC", "ADA/BTC", "BTC/USDT"]


async def store_candles(repo: Repository, symbol: str, start: int, stop: int) -> None:
    """Candles ``start:stop`` of a bundled market, as the replay would have stored them."""
    bundled = next(b for b in load_bundled_catalog() if b.symbol == symbol)
    series = load_bundled_series(bundled)
    await repo.upsert_candles([series.candle(i) for i in range(start, stop)])


async def core(tmp_path: Path, database_url: str, **overrides: Any) -> Services:
    settings = make_settings(tmp_path, database_url, **{"markets": MARKETS, **overrides})
    return await start_services(settings, start_feed=False)


@pytest.fixture
async def services(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    started = await core(tmp_path, database_url)
    try:
        yield started
    finally:
        await started.stop()
