"""A leveraged perpetual short on the Binance emulator, as the trader reads it: REST
``GET /api/v1/positions`` and ``/pnl``, and ``/positions`` in Telegram through the sandbox
Bot API, all showing the exchange's short with its entry, mark, PnL and liquidation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN, Served
from tests.e2e.conftest import ALICE, BotWorld, make_world
from tests.integration.live.conftest import API_KEY, SECRET
from tradedeck.exchanges.emulator import BinanceEmulator


@pytest.fixture
async def world(
    emulator: tuple[BinanceEmulator, Served], tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[BinanceEmulator, BotWorld]]:
    emu, served = emulator
    emu.deposit_futures("10000")
    w = await make_world(
        tmp_path,
        database_url,
        exchange="binance",
        exchange_api_key=API_KEY,
        exchange_api_secret=SECRET,
        exchange_api_url=served.url,
        exchange_market_type="perpetual",
        exchange_leverage=5,
        exchange_margin_mode="isolated",
        markets=["BTC/USDT"],
        max_order_notional_admin="100000",
        max_order_notional_trader="100000",
        valuation_currency="USDT",
    )
    try:
        yield emu, w
    finally:
        await w.stop_app()
        await w.sandbox.stop()
        await w.emulator.close()


async def test_a_leveraged_short_shows_as_a_short_in_rest_and_telegram(
    world: tuple[BinanceEmulator, BotWorld],
) -> None:
    emu, w = world
    assert w.app is not None
    _, token = await w.services.users.create(ADMIN, "api-root", "admin")
    await w.services.marketdata.poll_once(w.services.orders)  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=w.app.url, headers=headers, timeout=20) as api:
        sold = await api.post(
            "/api/v1/orders",
            json={"symbol": "BTC/USDT", "side": "sell", "type": "market", "amount": "0.1"},
        )
        assert sold.status_code == 201, sold.text
        assert sold.json()["status"] == "filled"
        emu.set_futures_price("BTCUSDT", "29000")
        found = await api.post("/api/v1/exchange/reconcile")
        assert found.status_code == 200, found.text

        [position] = (await api.get("/api/v1/positions")).json()
        pnl = (await api.get("/api/v1/pnl")).json()

    assert position["symbol"] == "BTC/USDT"
    assert position["side"] == "short" and position["market_type"] == "perpetual"
    assert Decimal(position["amount"]) == Decimal("0.1")
    assert Decimal(position["average_entry"]) == Decimal(30000)
    assert Decimal(position["mark_price"]) == Decimal(29000)
    assert Decimal(position["unrealized_pnl"]) == Decimal(100)  # 0.1 x 1000 in the short's favour
    assert Decimal(position["value"]) == Decimal(2900)
    assert position["leverage"] == 5 and position["margin_mode"] == "isolated"
    liquidation = Decimal(position["liquidation_price"])
    assert 30000 < liquidation < 36000  # a 5x short is liquidated some 20% above its entry
    # From our own books: the short realized nothing yet, and it opened with our sell's fill.
    assert Decimal(position["realized_pnl"]) == 0
    opened = datetime.fromisoformat(position["opened_at"])
    assert abs(opened - datetime.fromisoformat(sold.json()["created_at"])) < timedelta(seconds=5)
    assert Decimal(pnl["unrealized"]) == Decimal(100)

    alice = w.user(ALICE)
    await alice.send("/positions")
    reply = await alice.next_message(lambda m: "Positions" in m.text)
    lines = reply.text.splitlines()
    assert lines[1] == "BTC/USDT ▼ SHORT 0.1 · 5x · isolated"
    assert lines[2] == "   entry 30000 → mark 29000"
    assert lines[3] == "   unrealized 🟢 +100 USDT"
    assert lines[4].startswith(f"   liquidation {liquidation} (")

    await alice.send("/status")
    status = await alice.next_message(lambda m: "Kill switch" in m.text)
    assert " · LIVE binance perpetual · " in status.text.splitlines()[0]
    assert "open positions: 1" in status.text  # the short counts

    # /close buys the short back (reduce-only), after the same confirmation as any trade.
    await alice.send("/close BTC/USDT")
    preview = await alice.next_message(lambda m: "Risk check" in m.text)
    assert "Buy 0.1 BTC" in preview.text and "Closes the whole short position" in preview.text
    await alice.press("✅ Confirm")
    await alice.next_message(lambda m: "Filled buy" in m.text)
    [bought] = [o for o in emu.futures.orders.values() if o.side == "BUY"]
    assert bought.reduce_only
