"""tradedeck's core trading live on the Binance emulator, through the real ccxt client.

The emulator serves on a loopback port; the core is started exactly as `tradedeck run`
starts it, with ``TRADEDECK_EXCHANGE=binance`` and the emulator's URL as the exchange's, so
every order goes order manager → live exchange → ccxt → HTTP → emulator and back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Served, bound_socket, make_settings
from tradedeck.exchanges.emulator import BinanceEmulator, Kline
from tradedeck.services import Services, start_services

pytest.importorskip("ccxt.async_support")

API_KEY = "liveKey1"
SECRET = "liveSecret1"
MINUTE_MS = 60_000


def price_now(emu: BinanceEmulator, symbol: str, price: str) -> None:
    """Move the emulator's price and its 1m candles to ``price``: the candle of this
    minute (forming) closes there, the minute before closed there too."""
    emu.set_price(symbol, price)
    now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    value = Decimal(price)
    emu.set_klines(
        symbol,
        "1m",
        [
            Kline(t, value, value, value, value, Decimal(10), t + MINUTE_MS - 1)
            for t in (now - 2 * MINUTE_MS, now - MINUTE_MS, now)
        ],
    )


@dataclass
class Live:
    emu: BinanceEmulator
    served: Served
    services: Services
    tmp_path: Path
    database_url: str

    async def tick(self) -> None:
        """One poll of the market and of our open orders, as the background loops do."""
        await self.services.marketdata.poll_once(self.services.orders)  # type: ignore[attr-defined]
        assert self.services.live is not None
        await self.services.live.sync.poll()


def live_settings(tmp_path: Path, database_url: str, url: str, **overrides: Any) -> Any:
    return make_settings(
        tmp_path,
        database_url,
        exchange="binance",
        exchange_api_key=API_KEY,
        exchange_api_secret=SECRET,
        exchange_api_url=url,
        **{
            "markets": ["BTC/USDT"],
            "max_order_notional_admin": "100000",
            "max_order_notional_trader": "100000",
            "valuation_currency": "USDT",
            **overrides,
        },
    )


def perpetual_settings(
    emu: BinanceEmulator, served: Served, tmp_path: Path, database_url: str, **overrides: Any
) -> Any:
    """Live settings for USDT-margined perpetuals, with margin in the emulator's futures
    wallet to trade them."""
    emu.deposit_futures("10000")
    return live_settings(
        tmp_path, database_url, served.url, exchange_market_type="perpetual", **overrides
    )


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[BinanceEmulator, Served]]:
    emu = BinanceEmulator()
    emu.add_key(API_KEY, SECRET)
    emu.deposit("USDT", "100000")
    emu.deposit("BTC", "1")
    price_now(emu, "BTCUSDT", "30000")
    price_now(emu, "ETHUSDT", "2000")
    served = Served(emu.app, bound_socket())
    await served.start()
    try:
        yield emu, served
    finally:
        await served.stop()


@pytest.fixture
async def live(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> AsyncIterator[Live]:
    emu, served = emulator
    services = await start_services(
        live_settings(tmp_path, database_url, served.url), start_feed=False
    )
    try:
        yield Live(emu, served, services, tmp_path, database_url)
    finally:
        await services.stop()


@pytest.fixture
async def perpetual(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[BinanceEmulator, Services]]:
    """The core on perpetuals at 5x isolated, as `tradedeck run` would start it."""
    emu, served = emulator
    settings = perpetual_settings(
        emu, served, tmp_path, database_url, exchange_leverage=5, exchange_margin_mode="isolated"
    )
    services = await start_services(settings, start_feed=False)
    try:
        yield emu, services
    finally:
        await services.stop()
