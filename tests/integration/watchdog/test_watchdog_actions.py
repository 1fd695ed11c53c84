"""The watchdog against a real app's database: what it does when the trading process dies,
when it lives but the account goes wrong, and when two watchdogs run at once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, LiveApp, Served, bound_socket, make_settings, serve
from tradedeck.config import Settings
from tradedeck.domain.orders import OrderStatus
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.sandbox.app import create_sandbox_app
from tradedeck.sandbox.emulator import BotApiEmulator, FloodLimits
from tradedeck.sandbox.models import SandboxUser
from tradedeck.storage.db import make_engine
from tradedeck.storage.heartbeats import MAIN, DatabaseHeartbeats
from tradedeck.storage.repository import Repository
from tradedeck.watchdog.alerts import AdminAlerts
from tradedeck.watchdog.runner import Watchdog, bundled_markets

ROOT = SandboxUser(id=222, first_name="Root")
TOKEN = "777000111:watchdog-test-token"
PRICES = ("0.05", "0.06", "0.07")


@dataclasses.dataclass
class Sandbox:
    emulator: BotApiEmulator
    served: Served

    def texts(self) -> list[str]:
        return [m.text for m in self.emulator.messages(TOKEN, ROOT.id)]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    emulator = BotApiEmulator(limits=FloodLimits(enabled=False))
    served = Served(create_sandbox_app(emulator), bound_socket())
    await served.start()
    await emulator.user_sends(TOKEN, ROOT, "/start")  # the admin has started the bot
    try:
        yield Sandbox(emulator, served)
    finally:
        await served.stop()
        await emulator.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, sandbox: Sandbox) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        watchdog_telegram_token=TOKEN,
        watchdog_telegram_api_base=sandbox.served.url,
        watchdog_cancel_grace_seconds=30,
    )


async def open_orders(live: LiveApp) -> tuple[str, list[str]]:
    await live.services.users.create(ADMIN, "root", "admin", ROOT.id)
    token = await live.token("alice", "trader")
    ids = []
    async with live.client(token) as api:
        for price in PRICES:
            created = await api.post(
                "/api/v1/orders",
                json={
                    "symbol": "ETH/BTC",
                    "side": "buy",
                    "type": "limit",
                    "amount": "0.1",
                    "price": price,
                },
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
    return token, ids


class Guard:
    """A watchdog with its own engine on the app's database, as a separate process has."""

    def __init__(
        self, settings: Settings, owner: str, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.repository = Repository(make_engine(settings.resolved_database_url))
        self.alerts = AdminAlerts(settings, self.repository)
        kwargs: dict[str, Any] = {"owner": owner}
        if clock is not None:
            kwargs["clock"] = clock
        self.watchdog = Watchdog(
            settings,
            self.repository,
            DatabaseHeartbeats(self.repository.engine),
            self.alerts,
            bundled_markets(),
            **kwargs,
        )

    async def __aenter__(self) -> Guard:
        await self.alerts.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.alerts.stop()
        await self.repository.engine.dispose()


def minute_later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=60)


async def crash(live: LiveApp, settings: Settings) -> None:
    """Stop the app as a crash leaves it: its last beat an ordinary one, not "stopped"."""
    await live.stop()
    engine = make_engine(settings.resolved_database_url)
    try:
        await DatabaseHeartbeats(engine).beat(MAIN, "crashed", {"pid": 1})
    finally:
        await engine.dispose()


async def test_dead_process_gets_kill_switch_cancels_and_an_alert(
    settings: Settings, sandbox: Sandbox
) -> None:
    live = await serve(settings)
    token, ids = await open_orders(live)
    async with live.client(token) as api:
        before = {b["asset"]: b for b in (await api.get("/api/v1/balance")).json()["balances"]}
    assert Decimal(before["BTC"]["reserved"]) > 0
    await crash(live, settings)  # the trading process is gone; its last beat ages from here

    async with Guard(settings, "w1", clock=minute_later) as guard:
        action = await guard.watchdog.check_once()
        assert action is not None and action.activated and action.canceled == 3
        repo = guard.repository
        state = await repo.get_kill_switch()
        assert state.active and state.actor == "watchdog"
        assert state.reason is not None and state.reason.startswith("watchdog: heartbeat")
        assert "(timeout 15 s)" in state.reason
        assert await repo.load_open_orders() == []
        for order_id in ids:
            order = await repo.get_order(order_id)
            assert order is not None and order.status is OrderStatus.CANCELED
            assert order.status_reason == f"kill switch: {state.reason}"
            history = await repo.order_history(order_id)
            assert [e["status"] for e in history] == ["open", "canceled"]
        funds = {b.asset: b for b in await repo.load_balances()}
        assert funds["BTC"].reserved == 0
        assert funds["BTC"].free == Decimal(before["BTC"]["free"]) + Decimal(
            before["BTC"]["reserved"]
        )
        [alert] = sandbox.texts()[-1:]
        assert "Watchdog: trading halted" in alert and "heartbeat" in alert
        assert "Canceled 3 open orders" in alert

        assert await guard.watchdog.check_once() is None  # nothing left to do, no new alert
        assert len(sandbox.texts()) == 1
        detail = guard.watchdog.detail()
        assert detail["holder"] is True and "3 open orders canceled" in str(detail["last_action"])

    live = await serve(settings)  # the restarted process loads a halted, empty book
    try:
        async with live.client(token) as api:
            assert (await api.get("/api/v1/orders", params={"status": "open"})).json() == []
            refused = await api.post(
                "/api/v1/orders", json={"symbol": "ETH/BTC", "side": "buy", "amount": "0.1"}
            )
            assert refused.status_code == 409
            assert refused.json()["error"] == "kill_switch_active"
    finally:
        await live.stop()


async def test_a_clean_stop_is_not_a_death(settings: Settings, sandbox: Sandbox) -> None:
    live = await serve(settings)
    await open_orders(live)
    await live.stop()  # SIGTERM, a deploy: the last beat says "stopped"
    async with Guard(settings, "w1", clock=minute_later) as guard:
        assert await guard.watchdog.check_once() is None
        assert not (await guard.repository.get_kill_switch()).active
        assert len(await guard.repository.load_open_orders()) == len(PRICES)
    assert sandbox.texts() == []


async def test_two_watchdogs_kill_and_cancel_once(settings: Settings, sandbox: Sandbox) -> None:
    live = await serve(settings)
    await open_orders(live)
    await crash(live, settings)
    async with (
        Guard(settings, "w1", clock=minute_later) as first,
        Guard(settings, "w2", clock=minute_later) as second,
    ):
        actions = await asyncio.gather(first.watchdog.check_once(), second.watchdog.check_once())
        done = [a for a in actions if a is not None]
        assert len(done) == 1 and done[0].canceled == 3
        assert sorted([first.watchdog.holder, second.watchdog.holder]) == [False, True]
        assert await first.watchdog.check_once() is None
        assert await second.watchdog.check_once() is None
        assert len(sandbox.texts()) == 1
        history = [
            await first.repository.order_history(o.id) for o in await first.repository.list_orders()
        ]
        assert len(history) == len(PRICES)  # one cancel event per order, never two
        assert all([e["status"] for e in h] == ["open", "canceled"] for h in history)


async def test_live_process_cancels_its_own_orders_when_the_watchdog_halts_it(
    settings: Settings, sandbox: Sandbox
) -> None:
    live = await serve(settings)
    try:
        token, ids = await open_orders(live)
        today = datetime.now(UTC).date()
        # The day started with far more equity than the account holds now: a 99% drawdown.
        await live.services.repository.record_day_equity(today, "BTC", Decimal(1000))
        async with Guard(settings, "w1") as guard:
            action = await guard.watchdog.check_once()
            assert action is not None and action.trigger.cause == "drawdown"
            assert action.activated and action.canceled == 0  # the live process gets its grace
            assert "The trading process is canceling" in sandbox.texts()[-1]
        await live.services.heartbeat.beat_once()  # type: ignore[union-attr]
        async with live.client(token) as api:
            for order_id in ids:
                order = (await api.get(f"/api/v1/orders/{order_id}")).json()
                assert order["status"] == "canceled"
                assert "daily drawdown" in order["status_reason"]
            kill = (await api.get("/api/v1/kill-switch")).json()
            assert kill["active"] is True and "watchdog: daily drawdown" in kill["reason"]
    finally:
        await live.stop()


async def test_a_burst_of_rejections_trips_the_watchdog(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    settings = make_settings(
        tmp_path,
        database_url,
        watchdog_max_rejections_per_minute=2,
        watchdog_cancel_grace_seconds=0,
    )
    live = await serve(settings)
    try:
        _, ids = await open_orders(live)
        repo = live.services.repository
        now = datetime.now(UTC)
        for order_id in ids:  # the exchange turned each one down after accepting it
            order = await repo.get_order(order_id)
            assert order is not None
            rejected = dataclasses.replace(order, status=OrderStatus.REJECTED, updated_at=now)
            await repo.save_update(ExchangeUpdate(orders=[rejected]), [])
        async with Guard(settings, "w1") as guard:
            action = await guard.watchdog.check_once()
        assert action is not None and action.trigger.cause == "error_rate"
        assert action.trigger.reason == (
            "watchdog: 3 orders rejected in the last minute (limit 2 per minute)"
        )
        assert (await repo.get_kill_switch()).active
    finally:
        await live.stop()


async def test_orders_refused_at_placement_count_as_rejections_too(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    """Refused orders leave nothing in the order tables, yet a run of them is what the
    error-rate trigger exists for: their audit records are counted."""
    settings = make_settings(
        tmp_path,
        database_url,
        watchdog_max_rejections_per_minute=2,
        max_consecutive_rejections=100,  # the platform's own guard must not get there first
    )
    live = await serve(settings)
    try:
        async with live.client(await live.token("alice", "trader")) as api:
            for _ in range(3):  # ETH the account does not hold
                refused = await api.post(
                    "/api/v1/orders",
                    json={"symbol": "ETH/BTC", "side": "sell", "type": "market", "amount": "5"},
                )
                assert refused.json()["error"] == "insufficient_funds", refused.text
        assert await live.services.repository.list_orders() == []
        async with Guard(settings, "w1") as guard:
            action = await guard.watchdog.check_once()
        assert action is not None and action.trigger.cause == "error_rate"
        assert "3 orders rejected in the last minute" in action.trigger.reason
    finally:
        await live.stop()


async def test_healthz_shows_whether_a_watchdog_is_alive(settings: Settings) -> None:
    live = await serve(settings)
    try:
        async with live.client() as api:
            assert (await api.get("/healthz")).json()["watchdog"]["alive"] is False
            async with Guard(settings, "guard-1") as guard:
                await guard.watchdog.check_once()
            await live.services.heartbeat.beat_once()  # type: ignore[union-attr]
            seen = (await api.get("/healthz")).json()["watchdog"]
            assert seen["alive"] is True and seen["id"] == "guard-1"
    finally:
        await live.stop()
