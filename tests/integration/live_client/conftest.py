"""The emulator on a loopback port and tradedeck's CcxtClient aimed at it through settings.

The client is built the production way (``LiveSettings`` → ``build_exchange`` with the
``api_url`` override), so what is tested is what runs live, minus the host name. Time for
the circuit breaker is a manual clock: backoff sleeps advance it instead of waiting, and a
test moves it past the breaker's reset timeout when it wants the half-open trial.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.conftest import Served, bound_socket
from tradedeck.exchanges.ccxt_live import CcxtClient, LiveSettings, MarketKind, RetryPolicy
from tradedeck.exchanges.emulator import BinanceEmulator

pytest.importorskip("ccxt.async_support")

API_KEY = "liveClientKey1"
SECRET = "liveClientSecret1"


class ManualClock:
    """Monotonic seconds that only move when slept on or advanced."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def served() -> AsyncIterator[tuple[BinanceEmulator, Served]]:
    emu = BinanceEmulator()
    emu.add_key(API_KEY, SECRET)
    emu.deposit("USDT", "10000")
    emu.deposit("BTC", "1")
    server = Served(emu.app, bound_socket())
    await server.start()
    try:
        yield emu, server
    finally:
        await server.stop()


@pytest.fixture
def emu(served: tuple[BinanceEmulator, Served]) -> BinanceEmulator:
    return served[0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_client(
    url: str,
    clock: ManualClock,
    *,
    secret: str = SECRET,
    kind: MarketKind = MarketKind.SPOT,
    **settings: Any,
) -> CcxtClient:
    live = LiveSettings(
        exchange="binance",
        market_type=kind,
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(secret),
        api_url=url,
        **settings,
    )
    retry = RetryPolicy(failure_threshold=5, reset_timeout=30.0)
    client = CcxtClient(live, retry=retry, monotonic=clock, sleep=clock.sleep)
    # ccxt paces requests by binance's weights (an all-symbols open-orders read costs 40
    # units, seconds of waiting): right against the exchange, dead time against loopback.
    client.exchange.enableRateLimit = False
    return client


@pytest.fixture
async def client(
    served: tuple[BinanceEmulator, Served], clock: ManualClock
) -> AsyncIterator[CcxtClient]:
    live = make_client(served[1].url, clock)
    try:
        await live.load_markets()
        yield live
    finally:
        await live.close()
