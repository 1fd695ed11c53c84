"""The emulator on a loopback port, tradedeck's CcxtClient placing orders on it, and an
OrderStream reading the same account's updates through the real ccxt.pro client.

Both are built the production way (``LiveSettings`` with the ``api_url`` override), so
the stream authenticates, subscribes and reconnects exactly as it would on binance.com.
Each update is awaited with a deadline: a missing update fails its test instead of
hanging the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from tests.conftest import Served, bound_socket
from tradedeck.exchanges.ccxt_live import (
    CcxtClient,
    LiveSettings,
    MarketKind,
    RemoteOrder,
    RetryPolicy,
)
from tradedeck.exchanges.ccxt_live.stream import OrderStream
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.exchanges.emulator.ws_stream import Account

pytest.importorskip("ccxt.pro")

API_KEY = "liveStreamKey1"
SECRET = "liveStreamSecret1"
DEADLINE = 10.0  # seconds an expected update may take before the test fails


def live_settings(url: str, kind: MarketKind) -> LiveSettings:
    return LiveSettings(
        exchange="binance",
        market_type=kind,
        api_key=SecretStr(API_KEY),
        api_secret=SecretStr(SECRET),
        api_url=url,
    )


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (the stream connected, or reconnected)."""
    for _ in range(int(DEADLINE / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


class Updates:
    """An ``OrderStream``'s updates, read one at a time."""

    def __init__(self, stream: OrderStream) -> None:
        self._updates = stream.updates()
        self._pending = asyncio.ensure_future(self._one())

    async def _one(self) -> RemoteOrder | None:
        try:
            return await self._updates.__anext__()
        except StopAsyncIteration:
            return None

    async def next(self) -> RemoteOrder:
        update = await asyncio.wait_for(self._pending, DEADLINE)
        assert update is not None, "the stream ended"
        self._pending = asyncio.ensure_future(self._one())
        return update

    async def until(self, condition: Callable[[RemoteOrder], bool]) -> RemoteOrder:
        """The first update that meets ``condition`` (ccxt may fold quick changes into one)."""
        while not condition(update := await self.next()):
            pass
        return update

    async def finish(self) -> None:
        """After the stream closed: the pending read ends with it (or has ended already,
        with the failure a test read)."""
        done, _ = await asyncio.wait([self._pending], timeout=DEADLINE)
        assert done, "the stream did not end when it was closed"


@pytest.fixture
async def served() -> AsyncIterator[tuple[BinanceEmulator, Served]]:
    emu = BinanceEmulator()
    emu.add_key(API_KEY, SECRET)
    emu.deposit("USDT", "10000")
    emu.deposit("BTC", "1")
    emu.deposit_futures("10000")
    server = Served(emu.app, bound_socket())
    await server.start()
    try:
        yield emu, server
    finally:
        await server.stop()


@pytest.fixture
def emu(served: tuple[BinanceEmulator, Served]) -> BinanceEmulator:
    return served[0]


@pytest.fixture(params=[MarketKind.SPOT, MarketKind.PERPETUAL], ids=["spot", "perpetual"])
def kind(request: pytest.FixtureRequest) -> MarketKind:
    return MarketKind(request.param)


@pytest.fixture
async def client(
    served: tuple[BinanceEmulator, Served], kind: MarketKind
) -> AsyncIterator[CcxtClient]:
    """The REST client that places and cancels the orders the stream reports."""
    rest = CcxtClient(live_settings(served[1].url, kind), retry=RetryPolicy(base_delay=0.01))
    rest.exchange.enableRateLimit = False  # loopback: ccxt's pacing is only dead time
    try:
        await rest.load_markets()
        yield rest
    finally:
        await rest.close()


def open_stream(url: str, kind: MarketKind, **overrides: Any) -> OrderStream:
    settings = live_settings(url, kind)
    stream = OrderStream(settings, base_delay=0.01, max_delay=0.1, **overrides)
    stream.exchange.enableRateLimit = False
    return stream


@pytest.fixture
async def stream(
    served: tuple[BinanceEmulator, Served], kind: MarketKind
) -> AsyncIterator[OrderStream]:
    order_stream = open_stream(served[1].url, kind)
    try:
        yield order_stream
    finally:
        await order_stream.close()


@pytest.fixture
async def updates(
    stream: OrderStream, emu: BinanceEmulator, kind: MarketKind
) -> AsyncIterator[Updates]:
    """Reading started and the stream subscribed: orders placed from now on are seen."""
    reader = Updates(stream)
    await eventually(lambda: emu.streams.count(account(kind)) == 1)
    yield reader
    await stream.close()
    await reader.finish()


def account(kind: MarketKind) -> Account:
    return "spot" if kind is MarketKind.SPOT else "future"
