"""POST /api/v1/backtests over real HTTP: queue, poll to done, read, chart, refuse.

The runs use the bundled 1m BTC/USDT candles (the FTX BTC-PERP series), the same
sma_cross that the parity test checks against backtrader.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import LiveApp, make_settings, serve
from tradedeck.backtest.inputs import BacktestRequest
from tradedeck.backtest.service import BacktestJob, BacktestStatus
from tradedeck.storage.kv import make_kv_store
from tradedeck.storage.models import kv_store

RUN = {
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
    "symbol": "BTC/USDT",
    "fee": "0",
    "slippage_bps": "0",
    "amount": "0.1",
}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[LiveApp]:
    live = await serve(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'td.db'}"))
    try:
        yield live
    finally:
        await live.stop()


async def until_finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(600):  # the run takes about a second; this is only a safety net
        body: dict[str, Any] = (await client.get(f"/api/v1/backtests/{job_id}")).json()
        assert 0 <= body["progress"] <= 1
        if body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"backtest {job_id} did not finish: {body}")


async def stored_backtests(live: LiveApp) -> int:
    query = select(func.count()).select_from(kv_store).where(kv_store.c.key.like("%backtest:%"))
    async with live.services.repository.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_submit_poll_and_read_the_result(app: LiveApp) -> None:
    token = await app.token("vera", "viewer")  # a backtest trades no real account: READ
    async with app.client(token) as client:
        submitted = await client.post("/api/v1/backtests", json=RUN)
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()
        assert job["status"] in ("queued", "running")
        assert "heartbeat" not in job

        done = await until_finished(client, job["id"])
        assert done["status"] == "done", done["error"]
        assert done["progress"] == 1
        result = done["result"]
        assert result["metrics"]["trades"] == 945
        assert len(result["trades"]) == 945
        first = result["trades"][0]
        assert first["entry_time"] == "2021-12-31T23:42:00Z"
        assert first["entry_price"] == "46430.0"
        assert first["amount"] == "0.1"
        assert Decimal(result["metrics"]["fees"]) == 0

        chart = await client.get(f"/api/v1/backtests/{job['id']}/equity.png")
        assert chart.status_code == 200
        assert chart.headers["content-type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG")

        jobs = {j["name"]: j for j in (await client.get("/api/v1/jobs")).json()}
        assert jobs["backtests"]["runs"] >= 1  # queued runs are one of the app's jobs
        assert jobs["backtests"]["last_outcome"] == "ok"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"strategy": "nope"}, "unknown_strategy"),
        ({"params": {"fast": "abc"}}, "invalid_params"),
        ({"params": {"fast": 40, "slow": 30}}, "invalid_params"),
        ({"symbol": "DOGE/USDT"}, "unknown_symbol"),
        ({"timeframe": "5m"}, "invalid_timeframe"),
        ({"risk_percent": "1"}, "invalid_request"),  # with an amount too
        ({"amount": "0.00001"}, "invalid_precision"),
        ({"fee": "2"}, "invalid_request"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(
    app: LiveApp, change: dict[str, Any], code: str
) -> None:
    token = await app.token("tess", "trader")
    async with app.client(token) as client:
        refused = await client.post("/api/v1/backtests", json={**RUN, **change})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == code
    assert refused.json()["detail"]
    assert await stored_backtests(app) == 0


async def test_a_job_is_its_owners_and_needs_a_token(app: LiveApp) -> None:
    owner = await app.token("olga", "trader")
    other = await app.token("otto", "trader")
    async with app.client(owner) as client:
        job_id = (await client.post("/api/v1/backtests", json=RUN)).json()["id"]
        await until_finished(client, job_id)
    async with app.client(other) as client:
        hidden = await client.get(f"/api/v1/backtests/{job_id}")
        assert hidden.status_code == 404
        assert hidden.json()["error"] == "backtest_not_found"
        assert (await client.get("/api/v1/backtests/feedbeef")).status_code == 404
    async with app.client() as anonymous:
        assert (await anonymous.post("/api/v1/backtests", json=RUN)).status_code == 401


async def test_results_survive_a_restart_and_interrupted_runs_fail(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'td.db'}")
    first = await serve(settings)
    try:
        token = await first.token("rita", "trader")
        async with first.client(token) as client:
            job_id = (await client.post("/api/v1/backtests", json=RUN)).json()["id"]
            before = await until_finished(client, job_id)
        # A run that was in progress when its process died: its heartbeat stopped long ago.
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        orphan = BacktestJob(
            id="0rphan",
            status=BacktestStatus.RUNNING,
            progress=0.4,
            request=BacktestRequest.model_validate(RUN),
            user="rita",
            user_id=before["user_id"],
            submitted_at=long_ago,
            updated_at=long_ago,
            heartbeat=long_ago.timestamp(),
        )
        store = make_kv_store(first.services.repository.engine, None)
        await store.set("backtest:0rphan", orphan.model_dump_json())
    finally:
        await first.stop()

    second = await serve(settings)
    try:
        async with second.client(token) as client:
            after = (await client.get(f"/api/v1/backtests/{job_id}")).json()
            assert after["status"] == "done"
            assert after["result"] == before["result"]
            interrupted = (await client.get("/api/v1/backtests/0rphan")).json()
            assert interrupted["status"] == "failed"
            assert interrupted["error"]["error"] == "interrupted"
            assert "stopped before it finished" in interrupted["error"]["detail"]
    finally:
        await second.stop()
