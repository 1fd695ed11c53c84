"""GET /api/v1/exchange and POST /api/v1/exchange/reconcile over real HTTP: which exchange,
its breaker, the last reconciliation and the perpetual positions; paper says what it is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.conftest import Served, make_settings, serve
from tests.integration.live.conftest import perpetual_settings
from tradedeck.exchanges.emulator import BinanceEmulator


async def test_a_live_exchange_shows_its_state_and_positions(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> None:
    emu, served = emulator
    settings = perpetual_settings(emu, served, tmp_path, database_url, exchange_leverage=3)
    app = await serve(settings)
    try:
        admin = await app.token("root", "admin")
        viewer = await app.token("vera", "viewer")
        async with app.client(admin) as api:
            await app.services.marketdata.poll_once(app.services.orders)  # type: ignore[attr-defined]
            bought = await api.post(
                "/api/v1/orders",
                json={"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": "0.1"},
            )
            assert bought.status_code == 201, bought.text
            found = await api.post("/api/v1/exchange/reconcile")
            assert found.status_code == 200, found.text
            state = (await api.get("/api/v1/exchange")).json()
        assert state["exchange"] == "binance" and state["market_type"] == "perpetual"
        assert state["circuit"] == "closed"
        [position] = state["futures_positions"]
        assert position["symbol"] == "BTC/USDT" and Decimal(position["contracts"]) == Decimal("0.1")
        assert position["leverage"] == 3 and position["liquidation_price"] is not None
        async with app.client(viewer) as api:
            assert (await api.get("/api/v1/exchange")).status_code == 200
            refused = await api.post("/api/v1/exchange/reconcile")
            assert refused.status_code == 403
    finally:
        await app.stop()


async def test_paper_has_nothing_to_reconcile(tmp_path: Path, database_url: str) -> None:
    app = await serve(make_settings(tmp_path, database_url))
    try:
        async with app.client(await app.token("root", "admin")) as api:
            assert (await api.get("/api/v1/exchange")).json()["exchange"] == "paper"
            refused = await api.post("/api/v1/exchange/reconcile")
            assert refused.status_code == 409
            assert refused.json()["error"] == "paper_exchange"
    finally:
        await app.stop()
