"""A trailing stop on a live exchange (the Binance emulator through the real ccxt client):
the live feed's prices, the forming candle's included, move it, and the sell it places is
an order on the exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ADMIN, Served, bound_socket
from tests.integration.live.conftest import API_KEY, SECRET, live_settings, price_now
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.domain.roles import Actor
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.services import Services, start_services
from tradedeck.trading.requests import OrderRequest
from tradedeck.trading.trailing_rules import TrailSpec

SYMBOL = "BTC/USDT"


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[BinanceEmulator, Served]]:
    emu = BinanceEmulator()
    emu.add_key(API_KEY, SECRET)
    emu.deposit("USDT", "100000")
    price_now(emu, "BTCUSDT", "30000")
    served = Served(emu.app, bound_socket())
    await served.start()
    try:
        yield emu, served
    finally:
        await served.stop()


async def tick(services: Services) -> None:
    """One poll of the market, as the live feed's loop does."""
    await services.marketdata.poll_once(services.orders)  # type: ignore[attr-defined]


async def test_the_live_feed_moves_the_stop_and_the_sell_reaches_the_exchange(
    exchange: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> None:
    emu, served = exchange
    services = await start_services(
        live_settings(tmp_path, database_url, served.url), start_feed=False
    )
    try:
        await tick(services)
        user, _ = await services.users.create(ADMIN, "alice", "trader")
        alice = Actor(user.name, user.role, "api", user.id)
        buy = OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, Decimal("0.1"))
        await services.orders.place(alice, buy)
        stop = await services.trailing.create(alice, TrailSpec(SYMBOL, Decimal(5)))
        assert stop.peak == Decimal(30000)

        price_now(emu, "BTCUSDT", "32000")
        await tick(services)
        (risen,) = await services.trailing.list_stops(alice)
        assert (risen.peak, risen.level) == (Decimal(32000), Decimal(30400))
        price_now(emu, "BTCUSDT", "30500")
        await tick(services)
        assert risen.status.value == "active"
        selling = services.orders.closable_amount(SYMBOL)

        price_now(emu, "BTCUSDT", "30300")
        await tick(services)
        (done,) = await services.trailing.list_stops(alice)
        assert (done.status.value, done.trigger_price) == ("triggered", Decimal(30300))
        sell = await services.repository.get_order(done.order_id or "")
        assert sell is not None and sell.source == "trailing_stop"
        assert (sell.side, sell.status, sell.filled) == (Side.SELL, OrderStatus.FILLED, selling)
        remote = [o for o in emu.engine.orders.values() if o.client_order_id == sell.id]
        assert len(remote) == 1  # the exchange holds the sell, placed once
    finally:
        await services.stop()
