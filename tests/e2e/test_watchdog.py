"""The watchdog's promise, with real processes: `tradedeck run` dies by SIGKILL with orders
open, and `tradedeck watchdog`, on the same database, halts trading, cancels every order
and tells the admin on Telegram (a sandbox Bot API served here), all within the heartbeat
timeout plus 5 s; the restarted platform refuses orders until an admin resumes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import Served, bound_socket
from tests.e2e.processes import Process, cli, free_port, start_app
from tradedeck.domain.orders import OrderStatus
from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.emulator import BotApiEmulator, FloodLimits
from tradedeck.sandbox.models import SandboxUser
from tradedeck.storage.db import make_engine
from tradedeck.storage.repository import Repository

ROOT = SandboxUser(id=222, first_name="Root")
TOKEN = "555000222:watchdog-e2e-token"
TIMEOUT = 3.0  # TRADEDECK_WATCHDOG_HEARTBEAT_TIMEOUT in this test


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[BotApiEmulator, Served]]:
    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    served = Served(create_sandbox_app(emulator), bound_socket())
    await served.start()
    await emulator.user_sends(TOKEN, ROOT, "/start")  # the admin has started the bot
    try:
        yield emulator, served
    finally:
        await served.stop()
        await emulator.close()


async def test_watchdog_halts_a_killed_platform(
    tmp_path: Path, database_url: str, sandbox: tuple[BotApiEmulator, Served]
) -> None:
    emulator, served = sandbox
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEDECK_")}
    env.update(
        TRADEDECK_DATA_DIR=str(tmp_path / "data"),
        TRADEDECK_DATABASE_URL=database_url,
        TRADEDECK_PORT=str(free_port()),
        TRADEDECK_MARKETS="ETH/BTC",
        TRADEDECK_TELEGRAM="off",
        TRADEDECK_LOG_LEVEL="WARNING",
        TRADEDECK_HEARTBEAT_INTERVAL_SECONDS="0.5",
        TRADEDECK_WATCHDOG_HEARTBEAT_TIMEOUT=str(TIMEOUT),
        TRADEDECK_WATCHDOG_INTERVAL_SECONDS="0.25",
        TRADEDECK_WATCHDOG_TELEGRAM_TOKEN=TOKEN,
        TRADEDECK_WATCHDOG_TELEGRAM_API_BASE=served.url,
    )
    base = f"http://127.0.0.1:{env['TRADEDECK_PORT']}"
    app = await start_app(env, tmp_path / "run.log")
    guard: Process | None = None
    repository = Repository(make_engine(database_url))
    try:
        made = await cli(env, "users", "add", "root", "--role", "admin", "--telegram-id", "222")
        assert made.returncode == 0, made.stderr
        admin_token = made.stdout.strip().splitlines()[-1]
        made = await cli(env, "users", "add", "alice", "--role", "trader")
        assert made.returncode == 0, made.stderr
        trader_token = made.stdout.strip().splitlines()[-1]

        guard = Process(env, tmp_path / "watchdog.log", "watchdog")
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(300):  # the app's health shows the watchdog once it beats
                if (await client.get("/healthz")).json()["watchdog"]["alive"]:
                    break
                assert guard.proc.poll() is None, guard.output()
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the watchdog never showed up:\n{guard.output()}")

        trader = {"Authorization": f"Bearer {trader_token}"}
        async with httpx.AsyncClient(base_url=base, headers=trader, timeout=10) as api:
            [ticker] = [t for t in (await api.get("/api/v1/tickers")).json()]
            last = Decimal(ticker["last"])
            ids = []
            for share in ("0.5", "0.6", "0.7", "0.8"):  # far below the market: they rest
                price = (last * Decimal(share)).quantize(Decimal("0.000001"))
                created = await api.post(
                    "/api/v1/orders",
                    json={
                        "symbol": "ETH/BTC",
                        "side": "buy",
                        "type": "limit",
                        "amount": "0.5",
                        "price": str(price),
                    },
                )
                assert created.status_code == 201, created.text
                assert created.json()["status"] == "open"
                ids.append(created.json()["id"])

        await app.kill(signal.SIGKILL)
        deadline = time.monotonic() + TIMEOUT + 5
        while True:
            state = await repository.get_kill_switch()
            still_open = await repository.load_open_orders()
            alerts = [m.text for m in emulator.messages(TOKEN, ROOT.id)]
            if state.active and not still_open and alerts:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"after {TIMEOUT + 5:g} s: kill switch {state}, {len(still_open)} orders "
                    f"open, alerts {alerts}\n{guard.output()}"
                )
            await asyncio.sleep(0.1)

        assert state.reason is not None and "heartbeat" in state.reason
        assert f"(timeout {TIMEOUT:g} s)" in state.reason
        for order_id in ids:
            order = await repository.get_order(order_id)
            assert order is not None and order.status is OrderStatus.CANCELED
            assert order.status_reason is not None and "heartbeat" in order.status_reason
        assert all(b.reserved == 0 for b in await repository.load_balances())
        [alert] = alerts
        assert "trading halted" in alert and "heartbeat" in alert
        assert f"Canceled {len(ids)} open orders" in alert

        status = await cli(env, "watchdog", "--status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "alive" in status.stdout and f"{len(ids)} open orders canceled" in status.stdout

        app = await start_app(env, tmp_path / "run2.log")
        admin = {"Authorization": f"Bearer {admin_token}"}
        async with (
            httpx.AsyncClient(base_url=base, headers=trader, timeout=10) as api,
            httpx.AsyncClient(base_url=base, headers=admin, timeout=10) as admin_api,
        ):
            assert (await api.get("/api/v1/orders", params={"status": "open"})).json() == []
            order = {"symbol": "ETH/BTC", "side": "buy", "amount": "0.1"}
            refused = await api.post("/api/v1/orders", json=order)
            assert refused.status_code == 409
            assert refused.json()["error"] == "kill_switch_active"
            assert (await api.delete("/api/v1/kill-switch")).status_code == 403
            resumed = await admin_api.delete("/api/v1/kill-switch")
            assert resumed.status_code == 200 and resumed.json()["active"] is False
            accepted = await api.post("/api/v1/orders", json=order)
            assert accepted.status_code == 201, accepted.text
        assert len(emulator.messages(TOKEN, ROOT.id)) == 1  # a live platform raises no alarm
    finally:
        if guard is not None:
            await guard.kill()
        await app.kill()
        await repository.engine.dispose()
