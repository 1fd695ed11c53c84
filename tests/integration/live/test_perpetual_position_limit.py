"""The risk engine's position limit on perpetuals counts the exchange's positions, shorts
included: the positions rebuilt from fills are spot-style and would not see a short."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ADMIN, Served
from tests.integration.live.conftest import perpetual_settings
from tradedeck.domain.errors import RiskRefused
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.services import start_services
from tradedeck.trading.requests import OrderRequest


async def test_an_open_short_uses_up_the_last_position_slot(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> None:
    emu, served = emulator
    settings = perpetual_settings(
        emu,
        served,
        tmp_path,
        database_url,
        markets=["BTC/USDT", "ETH/USDT"],
        exchange_leverage=5,
        max_positions=1,
    )
    services = await start_services(settings, start_feed=False)
    try:
        assert services.live is not None
        await services.marketdata.poll_once(services.orders)  # type: ignore[attr-defined]
        short, _ = await services.orders.place(
            ADMIN, OrderRequest("BTC/USDT", Side.SELL, OrderType.MARKET, Decimal("0.01"))
        )
        assert short.status is OrderStatus.FILLED
        await services.live.sync.reconcile()
        [held] = services.live.exchange.futures_positions()
        assert held.contracts < 0

        for side in (Side.BUY, Side.SELL):  # a new long or a new short on another market
            with pytest.raises(RiskRefused) as refused:
                await services.orders.place(
                    ADMIN, OrderRequest("ETH/USDT", side, OrderType.MARKET, Decimal("0.1"))
                )
            assert refused.value.code == "max_positions"
        assert [o.side for o in emu.futures.orders.values()] == ["SELL"]  # nothing was sent

        closed, _ = await services.orders.place(  # closing the short is not a new position
            ADMIN, OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"))
        )
        assert closed.status is OrderStatus.FILLED
        # Our own books net the short too: flat after the close, no ghost long, and the
        # round trip at one price realized exactly its fees.
        position = services.orders.position("BTC/USDT")
        assert position is not None and position.amount == 0 and not position.is_open
        fees = sum(f.fee for f in await services.repository.list_fills(symbol="BTC/USDT"))
        assert position.realized_pnl == -fees
    finally:
        await services.stop()
