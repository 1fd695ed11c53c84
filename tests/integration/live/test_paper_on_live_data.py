"""Paper trading on a real exchange's public data: prices come from the exchange's candles
(no keys), fills are simulated by the paper engine, and nothing is sent to the exchange."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.conftest import ADMIN, Served, make_settings
from tests.integration.live.conftest import price_now
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.services import start_services
from tradedeck.trading.requests import OrderRequest


async def test_paper_fills_follow_the_exchanges_price(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> None:
    emu, served = emulator
    settings = make_settings(
        tmp_path,
        database_url,
        market_data="binance",
        exchange_api_url=served.url,
        markets=["BTC/USDT"],
        paper_balances={"USDT": "100000"},
        max_order_notional_admin="100000",
        valuation_currency="USDT",
    )
    services = await start_services(settings, start_feed=False)
    try:
        assert services.live is None  # paper: no live exchange behind the order manager
        assert list(services.marketdata.markets) == ["BTC/USDT"]
        price_now(emu, "BTCUSDT", "31000")
        await services.marketdata.poll_once(services.orders)  # type: ignore[attr-defined]
        assert services.orders.exchange.last_price("BTC/USDT") == Decimal(31000)
        order, _ = await services.orders.place(
            ADMIN, OrderRequest("BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.1"))
        )
        assert order.status is OrderStatus.FILLED
        assert order.average_price == Decimal(31000)
        assert emu.engine.orders == {}  # the exchange never heard of it
        assert services.orders.exchange.balance("USDT").total < Decimal(100000) - 3100
    finally:
        await services.stop()
