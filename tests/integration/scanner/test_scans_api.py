"""The scanner and the jobs over real HTTP: tokens required, ranked results, one
market's history, job status, and manual runs for admins only, errors as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import LiveApp, serve
from tests.integration.scanner.history import MARKETS, clear_candles, store_candles
from tradedeck.config import Settings


@pytest.fixture
async def scanning(settings: Settings) -> AsyncIterator[LiveApp]:
    live_app = await serve(settings.model_copy(update={"markets": MARKETS}))
    try:
        repo = live_app.services.repository
        await clear_candles(repo)
        for symbol in ("ETH/BTC", "LTC/BTC", "ADA/BTC"):
            await store_candles(repo, symbol, 0, 300)
        await store_candles(repo, "BTC/USDT", 0, 1)  # too few to scan: the failing market
        yield live_app
    finally:
        await live_app.stop()


async def test_scans_and_jobs_need_a_token(scanning: LiveApp) -> None:
    async with scanning.client() as anonymous:
        for path in ("/api/v1/scans/latest", "/api/v1/scans/ETH-BTC/history", "/api/v1/jobs"):
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"] == "unauthorized"
        response = await anonymous.post("/api/v1/jobs/scan/run")
        assert response.status_code == 401


async def test_admin_runs_a_scan_and_everyone_reads_it(scanning: LiveApp) -> None:
    admin = await scanning.token("root", "admin")
    viewer = await scanning.token("vic", "viewer")
    async with scanning.client(viewer) as vic, scanning.client(admin) as root:
        empty = (await vic.get("/api/v1/scans/latest")).json()
        assert empty == {"scan": None, "failures": 0, "results": []}

        refused = await vic.post("/api/v1/jobs/scan/run")
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"

        ran = await root.post("/api/v1/jobs/scan/run", params={"wait": "true"})
        assert ran.status_code == 202
        job = ran.json()
        assert job["name"] == "scan" and job["runs"] == 1 and job["last_outcome"] == "ok"

        latest = (await vic.get("/api/v1/scans/latest")).json()
        scan = latest["scan"]
        assert scan["kind"] == "full" and scan["markets"] == 4 and scan["failures"] == 1
        assert scan["timeframes"] == ["1m", "5m"] and latest["failures"] == 1
        results = latest["results"]
        assert [r["rank"] for r in results] == [1, 2, 3, 4]
        assert results[-1]["symbol"] == "BTC/USDT" and results[-1]["signal"] == "failed"
        assert "30 needed" in results[-1]["error"]
        strengths = [abs(r["score"]) for r in results[:-1]]
        assert strengths == sorted(strengths, reverse=True)
        eth = next(r for r in results if r["symbol"] == "ETH/BTC")
        assert eth["signal"] in {"buy", "sell", "none"} and eth["error"] is None
        assert eth["last_close"] > 0 and 0 <= eth["indicators"]["rsi"] <= 100

        await root.post("/api/v1/jobs/scan/run", params={"wait": "true"})
        history = await vic.get("/api/v1/scans/ETH-BTC/history", params={"limit": 5})
        assert history.status_code == 200
        rows = history.json()
        assert len(rows) == 2 and rows[0]["scan_id"] > rows[1]["scan_id"]
        assert all(r["symbol"] == "ETH/BTC" and r["timeframe"] == "5m" for r in rows)
        one = await vic.get("/api/v1/scans/eth_btc/history", params={"timeframe": "5m", "limit": 1})
        assert len(one.json()) == 1


async def test_job_status_and_errors(scanning: LiveApp) -> None:
    admin = await scanning.token("root", "admin")
    async with scanning.client(admin) as root:
        jobs = (await root.get("/api/v1/jobs")).json()
        names = {j["name"]: j for j in jobs}
        assert {"scan", "scan.revalidate", "markets.refresh", "scans.prune"} <= set(names)
        scan = names["scan"]
        assert scan["interval_seconds"] == 60 and scan["runs"] == 0 and not scan["running"]
        assert scan["last_outcome"] is None and scan["failures"] == 0

        unknown = await root.post("/api/v1/jobs/nope/run")
        assert unknown.status_code == 404
        assert unknown.json() == {"error": "unknown_job", "detail": "there is no job named 'nope'"}

        bad_market = await root.get("/api/v1/scans/DOGE-BTC/history")
        assert bad_market.status_code == 422 and bad_market.json()["error"] == "unknown_symbol"
        bad_tf = await root.get("/api/v1/scans/ETH-BTC/history", params={"timeframe": "7m"})
        assert bad_tf.status_code == 422 and bad_tf.json()["error"] == "invalid_timeframe"
        bad_limit = await root.get("/api/v1/scans/ETH-BTC/history", params={"limit": 0})
        assert bad_limit.status_code == 422 and bad_limit.json()["error"] == "invalid_request"

        await root.post("/api/v1/jobs/scan.revalidate/run", params={"wait": "true"})
        after = {j["name"]: j for j in (await root.get("/api/v1/jobs")).json()}
        assert after["scan.revalidate"]["runs"] == 1
        assert after["scan.revalidate"]["last_outcome"] == "ok"
        assert after["scan.revalidate"]["last_finished"] is not None
