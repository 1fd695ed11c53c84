"""The order history (``allOrders``) through the real ccxt clients: every status, the client
ids, and Binance's paging by time and by count."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tradedeck.exchanges.emulator import BinanceEmulator

HOUR_MS = 3_600_000


async def test_spot_history_lists_every_status_with_its_client_id(exchange: Any) -> None:
    await exchange.create_order("BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": "m1"})
    await exchange.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 29000, {"newClientOrderId": "rest"}
    )
    gone = await exchange.create_order(
        "BTC/USDT", "limit", "sell", 0.01, 35000, {"newClientOrderId": "gone"}
    )
    await exchange.cancel_order(gone["id"], "BTC/USDT")
    await exchange.create_order("ETH/USDT", "market", "buy", 0.1)  # another symbol

    orders = await exchange.fetch_orders("BTC/USDT")

    assert [(o["clientOrderId"], o["status"], o["filled"]) for o in orders] == [
        ("m1", "closed", 0.01),
        ("rest", "open", 0.0),
        ("gone", "canceled", 0.0),
    ]
    assert orders[0]["average"] == 30000.0 and orders[0]["timestamp"] is not None
    closed = await exchange.fetch_closed_orders("BTC/USDT")
    assert [o["clientOrderId"] for o in closed] == ["m1"]


async def test_spot_history_pages_by_time_and_by_count(exchange: Any, emu: BinanceEmulator) -> None:
    for name in ("old", "mid", "new"):
        await exchange.create_order(
            "BTC/USDT", "market", "buy", 0.01, None, {"newClientOrderId": name}
        )
    old, mid, _ = sorted(emu.engine.orders.values(), key=lambda o: o.order_id)
    old.time -= 3 * HOUR_MS  # placed hours ago
    mid.time -= 2 * HOUR_MS

    since = await exchange.fetch_orders("BTC/USDT", mid.time)
    assert [o["clientOrderId"] for o in since] == ["mid", "new"]
    first = await exchange.fetch_orders("BTC/USDT", old.time, 2)
    assert [o["clientOrderId"] for o in first] == ["old", "mid"]  # oldest first, then cut
    latest = await exchange.fetch_orders("BTC/USDT", None, 1)
    assert [o["clientOrderId"] for o in latest] == ["new"]  # no start: the most recent
    with pytest.raises(ccxt.BadRequest, match="More than 24 hours"):
        await exchange.fetch_orders("BTC/USDT", old.time, None, {"until": old.time + 25 * HOUR_MS})


async def test_futures_history_lists_filled_and_canceled_orders(futures: Any) -> None:
    await futures.create_order(
        "BTC/USDT:USDT", "market", "buy", 0.01, None, {"newClientOrderId": "f1"}
    )
    resting = await futures.create_order(
        "BTC/USDT:USDT", "limit", "buy", 0.01, 25000, {"newClientOrderId": "f2"}
    )
    await futures.cancel_order(resting["id"], "BTC/USDT:USDT")

    orders = await futures.fetch_orders("BTC/USDT:USDT")

    assert [(o["clientOrderId"], o["status"], o["filled"]) for o in orders] == [
        ("f1", "closed", 0.01),
        ("f2", "canceled", 0.0),
    ]
    assert orders[0]["average"] == 30000.0
