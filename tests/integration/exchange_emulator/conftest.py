"""The emulator served on a loopback port and the real ccxt clients (spot, USDⓈ-M) aimed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Served, bound_socket
from tradedeck.exchanges.emulator import BinanceEmulator, aim_ccxt, ccxt_options

ccxt_async = pytest.importorskip("ccxt.async_support")

API_KEY = "emulatorKey1"
SECRET = "emulatorSecret1"


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[BinanceEmulator, Served]]:
    emu = BinanceEmulator()
    emu.add_key(API_KEY, SECRET)
    emu.deposit("USDT", "10000")
    emu.deposit("BTC", "1")
    emu.deposit_futures("10000")
    served = Served(emu.app, bound_socket())
    await served.start()
    try:
        yield emu, served
    finally:
        await served.stop()


def make_client(url: str, secret: str = SECRET, **config: Any) -> Any:
    client = ccxt_async.binance(
        {"apiKey": API_KEY, "secret": secret, "options": ccxt_options(), **config}
    )
    aim_ccxt(client, url)
    return client


@pytest.fixture
async def exchange(emulator: tuple[BinanceEmulator, Served]) -> AsyncIterator[Any]:
    client = make_client(emulator[1].url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def emu(emulator: tuple[BinanceEmulator, Served]) -> BinanceEmulator:
    return emulator[0]


def make_futures_client(url: str, secret: str = SECRET, **config: Any) -> Any:
    client = ccxt_async.binanceusdm(
        {"apiKey": API_KEY, "secret": secret, "options": ccxt_options("future"), **config}
    )
    aim_ccxt(client, url)
    return client


@pytest.fixture
async def futures(emulator: tuple[BinanceEmulator, Served]) -> AsyncIterator[Any]:
    """A ``binanceusdm`` client on the emulator's USDⓈ-M account (10000 USDT)."""
    client = make_futures_client(emulator[1].url)
    try:
        yield client
    finally:
        await client.close()
