"""A brand-new app looks like a market that has been trading: every market, whatever its
timeframe, has candle history the moment start-up finishes, so the first chart and the
first scan work at once instead of minutes after `tradedeck run`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from tests.conftest import make_settings, serve
from tradedeck.config import Settings
from tradedeck.marketdata.catalog import load_bundled_catalog
from tradedeck.marketdata.service import HISTORY_ON_START, OFFSET_KEY

ALL_MARKETS = [b.symbol for b in load_bundled_catalog()]


def fresh(tmp_path: Path) -> Settings:
    """All bundled markets on the default SQLite file in an empty data directory."""
    return make_settings(tmp_path, markets=[])


async def stored(client: httpx.AsyncClient, symbol: str) -> list[dict[str, str]]:
    response = await client.get("/api/v1/candles", params={"symbol": symbol, "limit": 1000})
    assert response.status_code == 200, response.text
    candles: list[dict[str, str]] = response.json()
    return candles


async def test_a_fresh_app_has_history_for_charts_and_scans(tmp_path: Path) -> None:
    settings = fresh(tmp_path)
    assert not (tmp_path / "tradedeck.db").exists()
    live = await serve(settings, start_feed=True)
    try:
        assert sorted(live.services.marketdata.markets) == sorted(ALL_MARKETS)
        admin = await live.token("root", "admin")
        async with live.client(admin) as root:
            for symbol in ALL_MARKETS:  # 5m pairs, 1h BTC/USD and 1m BTC/USDT alike
                candles = await stored(root, symbol)
                assert len(candles) >= HISTORY_ON_START, symbol
            # Enough for the scanner's default window (plus the candle before) and a chart.
            assert HISTORY_ON_START >= settings.scan_candles + 1 >= 121

            for path in ("/api/v1/charts/ETH-BTC.png", "/api/v1/charts/BTC-USD.png"):
                chart = await root.get(path)
                assert chart.status_code == 200, (path, chart.text)
                assert chart.headers["content-type"] == "image/png"

            ran = await root.post("/api/v1/jobs/scan/run", params={"wait": "true"})
            assert ran.status_code == 202 and ran.json()["last_outcome"] == "ok"
            latest = (await root.get("/api/v1/scans/latest")).json()
        assert latest["scan"]["markets"] == len(ALL_MARKETS)
        errors = {r["symbol"]: r["error"] for r in latest["results"] if r["error"]}
        assert errors == {}  # in particular no "only 1 closed 5m candles, 30 needed"
        assert latest["failures"] == 0
    finally:
        await live.stop()


async def test_a_restart_resumes_where_the_market_was(tmp_path: Path) -> None:
    settings = fresh(tmp_path)
    first = await serve(settings)
    try:
        before = first.services.orders.exchange.last_candle("BTC/USD")
        assert before is not None
        admin = await first.token("root", "admin")
    finally:
        await first.stop()
    again = await serve(settings)
    try:
        saved = await again.services.repository.get_setting(OFFSET_KEY)
        assert saved is not None
        after = again.services.orders.exchange.last_candle("BTC/USD")
        assert after is not None and after.opened_at >= before.opened_at  # never back
        async with again.client(admin) as root:
            candles = await stored(root, "BTC/USD")
        # The history is the same market's, not a second one at the recording's start.
        times = [datetime.fromisoformat(c["time"]) for c in candles]
        assert times == sorted(times) and len(times) == len(set(times))
        assert len(candles) >= HISTORY_ON_START
        assert times[-1] == after.opened_at
    finally:
        await again.stop()
