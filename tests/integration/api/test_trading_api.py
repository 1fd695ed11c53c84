"""The REST API over real HTTP, on SQLite and PostgreSQL: what a trader's script sees."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.conftest import LiveApp, make_settings, serve
from tradedeck.domain.candles import Candle

pytestmark = pytest.mark.asyncio


async def push_price(
    live: LiveApp, symbol: str, close: str, low: str | None = None, high: str | None = None
) -> None:
    """Feed one more candle to the market, as the replay would."""
    exchange = live.services.orders.exchange
    last = exchange.last_candle(symbol)
    assert last is not None
    price = Decimal(close)
    candle = Candle(
        symbol=symbol,
        timeframe=last.timeframe,
        opened_at=last.opened_at + timedelta(minutes=5),
        open=price,
        high=Decimal(high) if high else price,
        low=Decimal(low) if low else price,
        close=price,
        volume=Decimal(1_000_000),
    )
    await live.services.orders.on_candles([candle])


async def balances(client) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    body = (await client.get("/api/v1/balance")).json()
    return {b["asset"]: b for b in body["balances"]}


async def test_market_buy_fills_and_shows_in_positions_and_pnl(live: LiveApp) -> None:
    token = await live.token("alice", "trader")
    async with live.client(token) as api:
        ticker = (await api.get("/api/v1/tickers/ETH-BTC")).json()
        last = Decimal(ticker["last"])
        response = await api.post(
            "/api/v1/orders",
            json={"symbol": "ETH/BTC", "side": "buy", "type": "market", "amount": "0.5"},
        )
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["status"] == "filled"
        assert Decimal(order["filled"]) == Decimal("0.5")
        assert Decimal(order["average_price"]) == last  # slippage 0 in these settings
        fee = Decimal("0.5") * last * Decimal("0.001")
        assert Decimal(order["fee"]) == fee

        positions = (await api.get("/api/v1/positions")).json()
        assert [p["symbol"] for p in positions] == ["ETH/BTC"]
        assert Decimal(positions[0]["amount"]) == Decimal("0.5")

        bal = await balances(api)
        assert Decimal(bal["ETH"]["free"]) == Decimal("0.5")
        assert Decimal(bal["BTC"]["free"]) == Decimal(1) - Decimal("0.5") * last - fee

        fills = (await api.get("/api/v1/fills")).json()
        assert len(fills) == 1 and fills[0]["order_id"] == order["id"]

        await push_price(live, "ETH/BTC", str(last * 2))
        pnl = (await api.get("/api/v1/pnl")).json()
        assert Decimal(pnl["unrealized"]) > 0
        assert pnl["currency"] == "BTC"

        sell = await api.post(
            "/api/v1/orders", json={"symbol": "ETH/BTC", "side": "sell", "amount": "0.5"}
        )
        assert sell.status_code == 201 and sell.json()["status"] == "filled"
        daily = (await api.get("/api/v1/pnl/daily", params={"days": 1})).json()
        assert len(daily) == 1 and daily[0]["fills"] == 2
        assert Decimal(daily[0]["realized"]) > 0
        assert (await api.get("/api/v1/positions")).json() == []


async def test_orders_survive_a_restart(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, database_url)
    live = await serve(settings)
    try:
        token = await live.token("bob", "trader")
        async with live.client(token) as api:
            bought = await api.post(
                "/api/v1/orders", json={"symbol": "LTC/BTC", "side": "buy", "amount": "1"}
            )
            assert bought.status_code == 201
            resting = await api.post(
                "/api/v1/orders",
                json={
                    "symbol": "ETH/BTC",
                    "side": "buy",
                    "type": "limit",
                    "amount": "0.1",
                    "price": "0.01",
                },
            )
            assert resting.json()["status"] == "open"
    finally:
        await live.stop()

    live = await serve(settings)
    try:
        async with live.client(token) as api:
            positions = (await api.get("/api/v1/positions")).json()
            assert [p["symbol"] for p in positions] == ["LTC/BTC"]
            open_orders = (await api.get("/api/v1/orders", params={"status": "open"})).json()
            assert [o["id"] for o in open_orders] == [resting.json()["id"]]
            bal = await balances(api)
            assert Decimal(bal["BTC"]["reserved"]) == Decimal("0.001") * Decimal("1.001")
            # The restored resting order still fills when the price comes down to it.
            await push_price(live, "ETH/BTC", "0.02", low="0.009")
            order = (await api.get(f"/api/v1/orders/{resting.json()['id']}")).json()
            assert order["status"] == "filled"
    finally:
        await live.stop()


async def test_limit_order_rests_reserves_and_cancel_releases(live: LiveApp) -> None:
    token = await live.token("carol", "trader")
    async with live.client(token) as api:
        before = await balances(api)
        created = await api.post(
            "/api/v1/orders",
            json={
                "symbol": "ETH/BTC",
                "side": "buy",
                "type": "limit",
                "amount": "1",
                "price": "0.05",
            },
        )
        assert created.status_code == 201
        order = created.json()
        assert order["status"] == "open"
        held = await balances(api)
        assert Decimal(held["BTC"]["reserved"]) == Decimal("0.05") * Decimal("1.001")
        canceled = await api.delete(f"/api/v1/orders/{order['id']}")
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
        assert await balances(api) == before
        again = await api.delete(f"/api/v1/orders/{order['id']}")
        assert again.status_code == 409 and again.json()["error"] == "order_not_open"


async def test_kill_switch_cancels_open_orders_and_blocks_new_ones(live: LiveApp) -> None:
    trader = await live.token("dave", "trader")
    admin = await live.token("root", "admin")
    async with live.client(trader) as api, live.client(admin) as admin_api:
        ids = []
        for price in ("0.05", "0.06"):
            r = await api.post(
                "/api/v1/orders",
                json={
                    "symbol": "ETH/BTC",
                    "side": "buy",
                    "type": "limit",
                    "amount": "0.1",
                    "price": price,
                },
            )
            ids.append(r.json()["id"])
        killed = await api.post("/api/v1/kill-switch", json={"reason": "market looks broken"})
        assert killed.status_code == 200
        assert killed.json()["active"] is True and killed.json()["canceled_orders"] == 2
        for order_id in ids:
            assert (await api.get(f"/api/v1/orders/{order_id}")).json()["status"] == "canceled"
        assert Decimal((await balances(api))["BTC"]["reserved"]) == 0

        refused = await api.post(
            "/api/v1/orders", json={"symbol": "ETH/BTC", "side": "buy", "amount": "0.1"}
        )
        assert refused.status_code == 409
        assert refused.json()["error"] == "kill_switch_active"
        assert (await api.get("/api/v1/orders", params={"status": "open"})).json() == []

        assert (await api.delete("/api/v1/kill-switch")).status_code == 403
        state = (await api.get("/api/v1/kill-switch")).json()
        assert state["active"] is True and state["reason"] == "market looks broken"
        resumed = await admin_api.delete("/api/v1/kill-switch")
        assert resumed.status_code == 200 and resumed.json()["active"] is False
        ok = await api.post(
            "/api/v1/orders", json={"symbol": "ETH/BTC", "side": "buy", "amount": "0.1"}
        )
        assert ok.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"symbol": "DOGE/BTC", "side": "buy", "amount": "1"}, 422, "unknown_symbol"),
        ({"symbol": "ETH/BTC", "side": "buy", "amount": "-1"}, 422, "invalid_request"),
        ({"symbol": "ETH/BTC", "side": "buy", "amount": "0.0000001"}, 422, "invalid_precision"),
        (
            {
                "symbol": "ETH/BTC",
                "side": "buy",
                "type": "limit",
                "amount": "1",
                "price": "0.0500000001",
            },
            422,
            "invalid_precision",
        ),
        (
            {"symbol": "ETH/BTC", "side": "buy", "type": "limit", "amount": "1"},
            422,
            "missing_price",
        ),
        ({"symbol": "ETH/BTC", "side": "hold", "amount": "1"}, 422, "invalid_request"),
        (
            {"symbol": "ETH/BTC", "side": "buy", "amount": "1", "leverage": 5},
            422,
            "invalid_request",
        ),
        ({"symbol": "ETH/BTC", "side": "sell", "amount": "5"}, 422, "insufficient_funds"),
        ({"symbol": "ETH/BTC", "side": "buy", "amount": "50"}, 409, "max_notional"),
    ],
)
async def test_bad_orders_get_a_clear_4xx_and_change_nothing(
    live: LiveApp, body: dict[str, object], status: int, code: str
) -> None:
    token = await live.token("erin", "trader")
    async with live.client(token) as api:
        before = await balances(api)
        response = await api.post("/api/v1/orders", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"] == code
        assert response.json()["detail"]
        assert await balances(api) == before
        assert (await api.get("/api/v1/orders")).json() == []


async def test_malformed_json_and_auth_failures(live: LiveApp) -> None:
    viewer = await live.token("vic", "viewer")
    async with live.client(viewer) as api:
        malformed = await api.post(
            "/api/v1/orders",
            content=b'{"symbol": "ETH/BTC",',
            headers={"Content-Type": "application/json"},
        )
        assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
        forbidden = await api.post(
            "/api/v1/orders", json={"symbol": "ETH/BTC", "side": "buy", "amount": "0.1"}
        )
        assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
        assert (await api.get("/api/v1/balance")).status_code == 200
        assert (await api.post("/api/v1/kill-switch", json={"reason": "x"})).status_code == 403
        limits = await api.patch("/api/v1/risk/limits", json={"max_positions": 1})
        assert limits.status_code == 403
    async with live.client() as anonymous:
        response = await anonymous.get("/api/v1/balance")
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    async with live.client("td_not-a-real-token") as forged:
        assert (await forged.get("/api/v1/positions")).status_code == 401
    async with live.client(viewer) as api:
        assert (await api.get("/api/v1/orders")).json() == []


async def test_idempotent_client_order_id(live: LiveApp) -> None:
    token = await live.token("fay", "trader")
    async with live.client(token) as api:
        body = {"symbol": "ETH/BTC", "side": "buy", "amount": "0.1", "client_order_id": "abc-1"}
        first = await api.post("/api/v1/orders", json=body)
        second = await api.post("/api/v1/orders", json=body)
        assert first.status_code == 201 and second.status_code == 200
        assert first.json()["id"] == second.json()["id"]
        assert len((await api.get("/api/v1/fills")).json()) == 1


async def test_stop_loss_and_take_profit_protect_an_entry(live: LiveApp) -> None:
    token = await live.token("gus", "trader")
    async with live.client(token) as api:
        last = Decimal((await api.get("/api/v1/tickers/ETH-BTC")).json()["last"])
        body = {
            "symbol": "ETH/BTC",
            "side": "buy",
            "amount": "1",
            "stop_loss": str((last * Decimal("0.9")).quantize(Decimal("0.000001"))),
            "take_profit": str((last * Decimal("1.1")).quantize(Decimal("0.000001"))),
        }
        entry = await api.post("/api/v1/orders", json=body)
        assert entry.status_code == 201, entry.text
        legs = (await api.get("/api/v1/orders", params={"status": "open"})).json()
        assert sorted(o["role"] for o in legs) == ["stop_loss", "take_profit"]
        await push_price(live, "ETH/BTC", str(last * Decimal("1.2")), low=str(last))
        statuses = {
            o["role"]: o["status"]
            for o in (await api.get("/api/v1/orders")).json()
            if o["role"] != "entry"
        }
        assert statuses == {"take_profit": "filled", "stop_loss": "canceled"}
        assert (await api.get("/api/v1/positions")).json() == []


async def test_risk_limits_read_by_all_changed_by_admin(live: LiveApp) -> None:
    admin = await live.token("ada", "admin")
    trader = await live.token("tom", "trader")
    async with live.client(admin) as admin_api, live.client(trader) as api:
        assert (await api.get("/api/v1/risk/limits")).json()["max_positions"] == 5
        changed = await admin_api.patch("/api/v1/risk/limits", json={"max_positions": 1})
        assert changed.status_code == 200 and changed.json()["max_positions"] == 1
        bad = await admin_api.patch("/api/v1/risk/limits", json={"max_positions": 0})
        assert bad.status_code == 422
        assert (
            await api.post(
                "/api/v1/orders", json={"symbol": "ETH/BTC", "side": "buy", "amount": "0.1"}
            )
        ).status_code == 201
        second = await api.post(
            "/api/v1/orders", json={"symbol": "LTC/BTC", "side": "buy", "amount": "0.1"}
        )
        assert second.status_code == 409 and second.json()["error"] == "max_positions"


async def test_health_metrics_and_openapi(live: LiveApp) -> None:
    async with live.client() as api:
        health = await api.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        spec = (await api.get("/openapi.json")).json()
        assert "/api/v1/orders" in spec["paths"]
        metrics = (await api.get("/metrics")).text
        assert "http_request_duration_seconds" in metrics
        assert "kill_switch_active 0.0" in metrics
