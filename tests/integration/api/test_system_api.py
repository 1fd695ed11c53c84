"""GET /api/v1/system/*: health, resources, recent logs and errors, as an admin's script
reads them over real HTTP, on SQLite and PostgreSQL; nobody else may."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from tests.conftest import LiveApp, serve
from tradedeck.config import Settings
from tradedeck.domain.roles import SYSTEM
from tradedeck.ops.log_buffer import LogBuffer
from tradedeck.ops.system import State, SystemService
from tradedeck.storage.db import make_engine

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def app(production_logging: None, settings: Settings) -> AsyncIterator[LiveApp]:
    live = await serve(settings)
    try:
        yield live
    finally:
        await live.stop()


async def test_an_admin_reads_the_checks_and_the_resources(app: LiveApp) -> None:
    token = await app.token("ops", "admin")
    async with app.client(token) as client:
        body = (await client.get("/api/v1/system/health")).json()
        checks = {c["name"]: c for c in body["checks"]}
        dialect = app.services.repository.engine.dialect.name
        assert checks["database"]["state"] == "ok"
        assert checks["database"]["detail"].startswith(f"{dialect} · ")
        assert checks["exchange"] == {"name": "exchange", "state": "ok", "detail": "paper"}
        assert checks["kill switch"]["state"] == "ok"
        assert checks["watchdog"]["state"] == "warn"  # none runs in this test
        assert body["state"] == "warn" and body["version"]
        resources = body["resources"]
        assert resources["cpus"] >= 1 and resources["rss_bytes"] > 10_000_000
        assert 0 < resources["disk_free"] <= resources["disk_total"]
        assert 0 < resources["memory_available"] <= resources["memory_total"]
        assert len(resources["load"]) == 3

        await client.post("/api/v1/kill-switch", json={"reason": "maintenance"})
        body = (await client.get("/api/v1/system/health")).json()
        checks = {c["name"]: c for c in body["checks"]}
        assert checks["kill switch"] == {
            "name": "kill switch",
            "state": "warn",
            "detail": "active: maintenance",
        }


async def test_logs_and_errors_come_from_this_process(app: LiveApp) -> None:
    token = await app.token("ops", "admin")
    log = structlog.get_logger("tradedeck.test")
    log.error("feed_failed", symbol="ETH/BTC", api_key="sk-9")
    log.warning("slow_fill", ms=120)
    log.error("feed_failed", symbol="LTC/BTC")
    async with app.client(token) as client:
        errors = (await client.get("/api/v1/system/logs", params={"level": "error"})).json()
        assert [(e["event"], e["fields"]["symbol"]) for e in errors][-2:] == [
            ("feed_failed", "ETH/BTC"),
            ("feed_failed", "LTC/BTC"),
        ]
        assert errors[-2]["fields"]["api_key"] == "***"
        recent = (await client.get("/api/v1/system/logs", params={"limit": 2})).json()
        assert [line["event"] for line in recent] == ["slow_fill", "feed_failed"]
        groups = (await client.get("/api/v1/system/errors")).json()
        mine = [g for g in groups if g["event"] == "feed_failed"]
        assert len(mine) == 1 and mine[0]["count"] == 2
        assert mine[0]["last"]["fields"]["symbol"] == "LTC/BTC"
        health = (await client.get("/api/v1/system/health")).json()
        assert health["errors_last_hour"] >= 2
        bad = await client.get("/api/v1/system/logs", params={"level": "loud"})
        assert bad.status_code == 422 and "level" in bad.json()["detail"]


async def test_only_admins_see_the_system(app: LiveApp) -> None:
    trader = await app.token("tim", "trader")
    async with app.client(trader) as client:
        for path in ("health", "logs", "errors"):
            refused = await client.get(f"/api/v1/system/{path}")
            assert refused.status_code == 403, path
            assert refused.json()["detail"] == "role trader may not view system"
    async with app.client() as anonymous:
        assert (await anonymous.get("/api/v1/system/logs")).status_code == 401


async def test_redis_is_checked_when_configured(tmp_path: Path, redis_url: str) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    logs = LogBuffer()
    try:
        for url, state in ((redis_url, State.OK), ("redis://127.0.0.1:1/0", State.FAIL)):
            service = SystemService(
                version="t", engine=engine, data_dir=tmp_path, logs=logs, redis_url=url
            )
            health = await service.health(SYSTEM)
            checks = {c.name: c for c in health.checks}
            assert checks["redis"].state is state, checks["redis"]
        assert health.state is State.FAIL
    finally:
        await engine.dispose()
