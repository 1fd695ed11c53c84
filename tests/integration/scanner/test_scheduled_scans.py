"""With the market moving, the app's own scheduler scans by itself: the job status and
the latest scan show up through the API without anyone starting them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import make_settings, serve
from tests.integration.scanner.history import MARKETS


async def test_the_scheduler_scans_on_its_own(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'tradedeck.db'}",
        markets=MARKETS,
        scan_interval_seconds=0.5,
    )
    live = await serve(settings, start_feed=True)
    try:  # no candles stored by hand: the replay's start-up history is enough to scan
        token = await live.token("vic", "viewer")
        async with live.client(token) as client:
            for _ in range(300):
                jobs = {j["name"]: j for j in (await client.get("/api/v1/jobs")).json()}
                if jobs["scan"]["runs"] >= 2:
                    break
                await asyncio.sleep(0.1)
            scan = jobs["scan"]
            assert scan["runs"] >= 2 and scan["last_outcome"] == "ok", scan
            assert scan["next_run"] is not None and scan["last_finished"] is not None
            latest = (await client.get("/api/v1/scans/latest")).json()
        assert latest["scan"]["kind"] == "full" and latest["scan"]["markets"] == 4
        eth = next(r for r in latest["results"] if r["symbol"] == "ETH/BTC")
        assert eth["error"] is None and eth["last_close"] > 0
        assert [r["error"] for r in latest["results"]] == [None] * 4
    finally:
        await live.stop()
