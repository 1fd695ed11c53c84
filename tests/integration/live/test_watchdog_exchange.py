"""The watchdog's cancel-all on a live exchange: its own client and keys, every open order of
the traded markets canceled on the exchange (a hand-placed one too), ours marked canceled."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import ADMIN
from tests.integration.live.conftest import API_KEY, Live, live_settings
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.trading.requests import OrderRequest
from tradedeck.watchdog.exchange_cancel import cancel_on_exchange
from tradedeck.watchdog.process import watchdog_client

WATCHDOG_KEY, WATCHDOG_SECRET = "watchdogKey", "watchdogSecret"


async def test_the_watchdog_cancels_everything_open_on_the_exchange(live: Live) -> None:
    await live.tick()
    ids = []
    for price in ("29000", "28000"):
        order, _ = await live.services.orders.place(
            ADMIN,
            OrderRequest("BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.1"), Decimal(price)),
        )
        ids.append(order.id)
    live.emu.engine.place(  # a trader's own order, placed in the exchange's app
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=Decimal("0.1"),
        price=Decimal(27000),
        client_order_id="web_manual_1",
        time_in_force="GTC",
    )
    live.emu.add_key(WATCHDOG_KEY, WATCHDOG_SECRET)
    live.emu.revoke_key(API_KEY)  # the trading keys are gone: the watchdog has its own
    settings = live_settings(
        live.tmp_path,
        live.database_url,
        live.served.url,
        watchdog_exchange_api_key=WATCHDOG_KEY,
        watchdog_exchange_api_secret=WATCHDOG_SECRET,
    )
    client = watchdog_client(settings)
    try:
        await client.load_markets()
        canceled = await cancel_on_exchange(
            client, live.services.repository, ["BTC/USDT"], "kill switch: heartbeat lost"
        )
    finally:
        await client.close()

    assert canceled == 3
    assert {o.status for o in live.emu.engine.orders.values()} == {"CANCELED"}
    for order_id in ids:
        stored = await live.services.repository.get_order(order_id)
        assert stored is not None and stored.status is OrderStatus.CANCELED
        assert stored.status_reason == "kill switch: heartbeat lost"
    assert await live.services.repository.load_open_orders() == []
