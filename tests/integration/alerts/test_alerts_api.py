"""Price alerts over real HTTP, on SQLite and PostgreSQL: set, list, delete, and a
crossing candle marking the alert fired, each user seeing only their own."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.conftest import LiveApp
from tradedeck.domain.candles import Candle


async def push_price(live: LiveApp, symbol: str, close: str, high: str | None = None) -> None:
    """One more candle through the market's delivery, as the replay would feed it."""
    services = live.services
    last = services.orders.exchange.last_candle(symbol)
    assert last is not None
    price = Decimal(close)
    candle = Candle(
        symbol=symbol,
        timeframe=last.timeframe,
        opened_at=last.opened_at + timedelta(minutes=5),
        open=price,
        high=Decimal(high) if high else price,
        low=price,
        close=price,
        volume=Decimal(1_000),
    )
    await services.marketdata.deliver(services.orders, [candle])


async def test_set_list_delete_and_fire_once(live: LiveApp) -> None:
    alice = live.client(await live.token("alice", "trader"))
    vic = live.client(await live.token("vic", "viewer"))
    root = live.client(await live.token("root", "admin"))
    last = live.services.orders.exchange.last_price("ETH/BTC")
    assert last is not None
    level = format((last * Decimal("1.5")).quantize(Decimal("0.00000001")), "f")
    async with alice, vic, root:
        created = await alice.post(
            "/api/v1/alerts", json={"symbol": "eth/btc", "op": ">", "price": level}
        )
        assert created.status_code == 201, created.text
        alert = created.json()
        assert (alert["symbol"], alert["op"], alert["price"]) == ("ETH/BTC", ">", level)
        assert alert["active"] is True and alert["triggered_at"] is None
        below = await vic.post(
            "/api/v1/alerts", json={"symbol": "LTC/BTC", "op": "<=", "price": "0.00000001"}
        )
        assert below.status_code == 201, below.text

        assert [a["id"] for a in (await alice.get("/api/v1/alerts")).json()] == [alert["id"]]
        assert [a["id"] for a in (await vic.get("/api/v1/alerts")).json()] == [below.json()["id"]]
        everyone = {a["id"] for a in (await root.get("/api/v1/alerts")).json()}
        assert everyone == {alert["id"], below.json()["id"]}

        # Someone else's alert does not exist for you.
        refused = await vic.delete(f"/api/v1/alerts/{alert['id']}")
        assert refused.status_code == 404 and refused.json()["error"] == "alert_not_found"

        await push_price(live, "ETH/BTC", format(last, "f"))  # below the level: nothing
        assert (await alice.get("/api/v1/alerts")).json()[0]["active"] is True
        crossing = format(Decimal(level) + Decimal("0.00000100"), "f")
        await push_price(live, "ETH/BTC", format(last, "f"), high=crossing)  # the wick
        (fired,) = (await alice.get("/api/v1/alerts")).json()
        assert fired["active"] is False and fired["triggered_price"] == crossing.rstrip("0")
        assert fired["triggered_at"] is not None

        gone = await vic.delete(f"/api/v1/alerts/{below.json()['id']}")
        assert gone.status_code == 204
        assert (await vic.get("/api/v1/alerts")).json() == []
        again = await vic.delete(f"/api/v1/alerts/{below.json()['id']}")
        assert again.status_code == 404


async def test_bad_alerts_are_refused_with_a_reason(live: LiveApp) -> None:
    alice = live.client(await live.token("alice", "trader"))
    async with alice:
        cases = [
            ({"symbol": "DOGE/BTC", "op": ">", "price": "0.1"}, 422, "unknown_symbol"),
            ({"symbol": "ETH/BTC", "op": "=", "price": "0.1"}, 422, "invalid_op"),
            ({"symbol": "ETH/BTC", "op": ">", "price": "0.000000001"}, 422, "invalid_precision"),
            ({"symbol": "ETH/BTC", "op": ">", "price": "-1"}, 422, "invalid_request"),
            ({"symbol": "ETH-BTC", "op": ">", "price": "0.1"}, 422, "invalid_symbol"),
            ({"symbol": "ETH/BTC", "op": ">"}, 422, "invalid_request"),
        ]
        for body, status, code in cases:
            response = await alice.post("/api/v1/alerts", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"] == code and response.json()["detail"], body
        assert (await alice.get("/api/v1/alerts")).json() == []
    async with live.client() as anonymous:
        assert (await anonymous.get("/api/v1/alerts")).status_code == 401
        denied = await anonymous.post(
            "/api/v1/alerts", json={"symbol": "ETH/BTC", "op": ">", "price": "0.1"}
        )
        assert denied.status_code == 401
