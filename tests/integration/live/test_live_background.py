"""The background loops on their own: with the platform running as `tradedeck run` runs it,
a resting order that fills on the exchange is found, stored and moves the position without
anyone asking."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tests.conftest import ADMIN, Served
from tests.integration.live.conftest import live_settings
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.services import start_services
from tradedeck.trading.requests import OrderRequest


async def test_a_fill_on_the_exchange_is_found_by_the_poll(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> None:
    emu, served = emulator
    settings = live_settings(
        tmp_path, database_url, served.url, exchange_poll_seconds=0.2, telegram="off"
    )
    services = await start_services(settings, start_feed=True)
    try:
        order, _ = await services.orders.place(
            ADMIN,
            OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal(29500)),
        )
        assert order.status is OrderStatus.OPEN
        emu.set_price("BTCUSDT", "29400")  # it trades on the exchange
        for _ in range(100):
            stored = await services.repository.get_order(order.id)
            assert stored is not None
            if stored.status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.1)
        assert stored.status is OrderStatus.FILLED
        position = services.orders.position("BTC/USDT")
        assert position is not None and position.amount == Decimal("0.1")
    finally:
        await services.stop()


async def test_the_order_stream_brings_a_fill_before_any_poll(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> None:
    """Polling every minute: only the exchange's order-update stream can tell us in time."""
    emu, served = emulator
    settings = live_settings(
        tmp_path, database_url, served.url, exchange_poll_seconds=60, telegram="off"
    )
    services = await start_services(settings, start_feed=True)
    try:
        order, _ = await services.orders.place(
            ADMIN,
            OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal(29500)),
        )
        await asyncio.sleep(0.5)  # the stream is subscribed
        emu.set_price("BTCUSDT", "29400")
        for _ in range(100):
            stored = await services.repository.get_order(order.id)
            assert stored is not None
            if stored.status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.1)
        assert stored.status is OrderStatus.FILLED
        assert services.live is not None and services.live.sync.last is not None
    finally:
        await services.stop()
