"""Live trading survives a crash, with real processes: `tradedeck run` trades on the Binance
emulator (its own process, reached by the real ccxt client over HTTP), dies by SIGKILL with
limit orders open; meanwhile one order fills and another is canceled on the exchange. The
restarted platform reports exactly those two differences and agrees with the exchange."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_watchdog import cli, free_port, start_app

pytest.importorskip("ccxt")

KEY, SECRET = "e2eKey", "e2eSecret"


@pytest.fixture
def exchange() -> Iterator[str]:
    """The emulator in a process of its own; yields its URL."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tradedeck.exchanges.emulator", "--port", "0",
            "--key", KEY, "--secret", SECRET, "--deposit", "USDT=100000", "--deposit", "BTC=1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    url = next(
        (line.strip().split("=", 1)[1] for line in proc.stdout if line.startswith("listening=")),
        None,
    )
    try:
        assert url is not None, "the emulator did not start"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_a_killed_platform_restarts_on_what_the_exchange_did(
    tmp_path: Path, database_url: str, exchange: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEDECK_")}
    env.update(
        TRADEDECK_DATA_DIR=str(tmp_path / "data"),
        TRADEDECK_DATABASE_URL=database_url,
        TRADEDECK_PORT=str(free_port()),
        TRADEDECK_EXCHANGE="binance",
        TRADEDECK_EXCHANGE_API_URL=exchange,
        TRADEDECK_EXCHANGE_API_KEY=KEY,
        TRADEDECK_EXCHANGE_API_SECRET=SECRET,
        TRADEDECK_MARKETS="BTC/USDT",
        TRADEDECK_VALUATION_CURRENCY="USDT",
        TRADEDECK_MAX_ORDER_NOTIONAL_ADMIN="100000",
        TRADEDECK_TELEGRAM="off",
        TRADEDECK_LOG_LEVEL="WARNING",
    )
    base = f"http://127.0.0.1:{env['TRADEDECK_PORT']}"
    app = await start_app(env, tmp_path / "run.log")
    try:
        made = await cli(env, "users", "add", "root", "--role", "admin")
        assert made.returncode == 0, made.stderr
        admin = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        async with httpx.AsyncClient(base_url=base, headers=admin, timeout=20) as api:
            health = (await api.get("/healthz")).json()
            assert health["exchange"] == "binance" and health["exchange_circuit"] == "closed"
            ids = []
            for price in ("29000", "28000", "27000"):
                created = await api.post(
                    "/api/v1/orders",
                    json={
                        "symbol": "BTC/USDT",
                        "side": "buy",
                        "type": "limit",
                        "amount": "0.1",
                        "price": price,
                    },
                )
                assert created.status_code == 201, created.text
                assert created.json()["status"] == "open"
                ids.append(created.json()["id"])

        await app.kill(signal.SIGKILL)
        filled, canceled, untouched = ids
        async with httpx.AsyncClient(base_url=exchange, timeout=10) as control:
            done = await control.post(
                "/_control/fill", json={"symbol": "BTCUSDT", "clientOrderId": filled}
            )
            assert done.status_code == 200, done.text
            done = await control.post(
                "/_control/cancel", json={"symbol": "BTCUSDT", "clientOrderId": canceled}
            )
            assert done.status_code == 200, done.text
            truth = (await control.get("/_control/state")).json()["spot"]

        app = await start_app(env, tmp_path / "run2.log")
        async with httpx.AsyncClient(base_url=base, headers=admin, timeout=20) as api:
            state = (await api.get("/api/v1/exchange")).json()
            found = state["last_reconciliation"]["differences"]
            orders = {d["subject"]: d["kind"] for d in found if d["kind"].startswith("order")}
            assert orders == {filled: "order_filled", canceled: "order_canceled"}
            assert all(d["matters"] for d in found if d["kind"].startswith("order"))

            stored = {o["id"]: o["status"] for o in (await api.get("/api/v1/orders")).json()}
            assert stored == {filled: "filled", canceled: "canceled", untouched: "open"}
            [position] = (await api.get("/api/v1/positions")).json()
            assert Decimal(position["amount"]) == Decimal("0.1")
            assert Decimal(position["average_entry"]) == Decimal(29000)
            balances = {
                b["asset"]: b for b in (await api.get("/api/v1/balance")).json()["balances"]
            }
            for asset, remote in truth["balances"].items():
                mine = balances[asset]
                assert Decimal(mine["free"]) == Decimal(remote["free"]), (asset, mine, remote)
                assert Decimal(mine["reserved"]) == Decimal(remote["locked"]), (asset, mine)
            open_remote = {o["clientOrderId"] for o in truth["openOrders"]}
            assert open_remote == {untouched}
            again = (await api.post("/api/v1/exchange/reconcile")).json()
            assert again["differences"] == []  # nothing left to correct
    finally:
        await app.kill()
