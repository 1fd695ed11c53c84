"""Trailing stops over real HTTP, on SQLite and PostgreSQL: set, list, delete, refused
with a reason, each trader seeing only their own, and a falling candle selling."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from tests.conftest import LiveApp
from tradedeck.domain.candles import Candle
from tradedeck.domain.money import fmt

SYMBOL = "ETH/BTC"
TICK = Decimal("0.00000001")


async def push_price(live: LiveApp, close: Decimal) -> None:
    services = live.services
    last = services.orders.exchange.last_candle(SYMBOL)
    assert last is not None
    candle = Candle(
        SYMBOL,
        last.timeframe,
        last.opened_at + timedelta(minutes=5),
        last.close,
        max(last.close, close),
        min(last.close, close),
        close,
        Decimal(1_000),
    )
    await services.marketdata.deliver(services.orders, [candle])


async def buy(client: httpx.AsyncClient, amount: str) -> None:
    order = {"symbol": SYMBOL, "side": "buy", "type": "market", "amount": amount}
    response = await client.post("/api/v1/orders", json=order)
    assert response.status_code == 201, response.text


async def test_set_list_delete_and_sell(live: LiveApp) -> None:
    alice = live.client(await live.token("alice", "trader"))
    bob = live.client(await live.token("bob", "trader"))
    root = live.client(await live.token("root", "admin"))
    last = live.services.orders.exchange.last_price(SYMBOL)
    assert last is not None
    async with alice, bob, root:
        await buy(alice, "0.5")
        created = await alice.post(
            "/api/v1/trailing-stops", json={"symbol": "eth/btc", "trail_percent": "3"}
        )
        assert created.status_code == 201, created.text
        stop = created.json()
        assert {k: stop[k] for k in ("symbol", "trail_percent", "amount", "status")} == {
            "symbol": SYMBOL,
            "trail_percent": "3",
            "amount": None,
            "status": "active",
        }
        assert (stop["peak"], stop["level"]) == (fmt(last), fmt(last * Decimal("0.97")))
        assert stop["created_at"].endswith("Z") and stop["triggered_at"] is None
        assert (stop["trigger_price"], stop["order_id"], stop["reason"]) == (None, None, None)

        partial = await alice.post(
            "/api/v1/trailing-stops",
            json={"symbol": SYMBOL, "trail_percent": "2.5%", "amount": "0.2"},
        )
        assert partial.status_code == 201, partial.text
        assert (partial.json()["trail_percent"], partial.json()["amount"]) == ("2.5", "0.2")
        numeric = await alice.post(
            "/api/v1/trailing-stops", json={"symbol": SYMBOL, "trail_percent": 10}
        )
        assert numeric.status_code == 201 and numeric.json()["trail_percent"] == "10"
        ids = [numeric.json()["id"], partial.json()["id"], stop["id"]]

        assert [s["id"] for s in (await alice.get("/api/v1/trailing-stops")).json()] == ids
        assert (await bob.get("/api/v1/trailing-stops")).json() == []
        everyone = await root.get("/api/v1/trailing-stops", params={"all": "true"})
        assert [s["id"] for s in everyone.json()] == ids
        not_admin = await alice.get("/api/v1/trailing-stops", params={"all": "true"})
        assert not_admin.status_code == 403 and not_admin.json()["error"] == "forbidden"

        # Someone else's stop does not exist for you.
        foreign = await bob.delete(f"/api/v1/trailing-stops/{stop['id']}")
        assert foreign.status_code == 404
        assert foreign.json() == {
            "error": "trailing_stop_not_found",
            "detail": f"no trailing stop #{stop['id']}",
        }
        for stop_id in ids[:2]:
            assert (await alice.delete(f"/api/v1/trailing-stops/{stop_id}")).status_code == 204
        again = await alice.delete(f"/api/v1/trailing-stops/{ids[0]}")
        assert again.status_code == 404

        await push_price(live, (last * Decimal("0.96")).quantize(TICK))
        (sold,) = (await alice.get("/api/v1/trailing-stops")).json()
        assert sold["status"] == "triggered" and sold["order_id"] and sold["reason"] is None
        order = (await alice.get(f"/api/v1/orders/{sold['order_id']}")).json()
        assert (order["side"], order["filled"], order["source"]) == ("sell", "0.5", "trailing_stop")
        positions = (await alice.get("/api/v1/positions")).json()
        assert all(p["symbol"] != SYMBOL or Decimal(p["amount"]) == 0 for p in positions)


async def test_bad_stops_are_refused_with_a_reason(live: LiveApp) -> None:
    alice = live.client(await live.token("alice", "trader"))
    vic = live.client(await live.token("vic", "viewer"))
    async with alice, vic:
        no_position = await alice.post(
            "/api/v1/trailing-stops", json={"symbol": SYMBOL, "trail_percent": "3"}
        )
        assert no_position.status_code == 409
        assert no_position.json() == {
            "error": "no_position",
            "detail": "there is no ETH/BTC position to protect; buy first",
        }
        await buy(alice, "0.5")
        cases = [
            ({"symbol": SYMBOL, "trail_percent": "0"}, 422, "invalid_trail"),
            ({"symbol": SYMBOL, "trail_percent": "60%"}, 422, "invalid_trail"),
            ({"symbol": SYMBOL, "trail_percent": "three"}, 422, "invalid_trail"),
            ({"symbol": SYMBOL, "trail_percent": "3", "amount": "5"}, 422, "amount_above_position"),
            (
                {"symbol": SYMBOL, "trail_percent": "3", "amount": "0.0001"},
                422,
                "invalid_precision",
            ),
            ({"symbol": SYMBOL, "trail_percent": "3", "amount": "-1"}, 422, "invalid_request"),
            ({"symbol": "DOGE/BTC", "trail_percent": "3"}, 422, "unknown_symbol"),
            ({"symbol": "LTC/BTC", "trail_percent": "3"}, 409, "no_position"),
            ({"symbol": SYMBOL}, 422, "invalid_request"),
            ({"symbol": SYMBOL, "trail_percent": "3", "stop": "1"}, 422, "invalid_request"),
        ]
        for body, status, code in cases:
            response = await alice.post("/api/v1/trailing-stops", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"] == code and response.json()["detail"], body
        assert (await alice.get("/api/v1/trailing-stops")).json() == []

        viewer = await vic.post(
            "/api/v1/trailing-stops", json={"symbol": SYMBOL, "trail_percent": "3"}
        )
        assert viewer.status_code == 403
        assert viewer.json() == {"error": "forbidden", "detail": "role viewer may not trade"}
    async with live.client() as anonymous:
        assert (await anonymous.get("/api/v1/trailing-stops")).status_code == 401
