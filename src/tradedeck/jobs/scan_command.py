"""`tradedeck scan`: the scheduled scan job, run once from the shell on the local database.

The scan is the app's own: the same scanner built from the same settings, run through the
jobs service (so it needs the same permission as a manual run over the API) and stored
like any scheduled scan (as not announced: its signals reach no one here, so the app's next
scan pushes them). Only the market data service is not started: the command reads
the candles a running (or earlier) `tradedeck run` stored, and moves no market itself.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradedeck.config import Settings
from tradedeck.domain.candles import TIMEFRAME_SECONDS
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import normalize_symbol
from tradedeck.domain.roles import Actor
from tradedeck.jobs.scheduler import Scheduler
from tradedeck.jobs.service import JobsService
from tradedeck.marketdata.service import MarketDataService
from tradedeck.services import build_scanner, open_repository, schedule_jobs
from tradedeck.storage.scans import ScanResult
from tradedeck.strategies.registry import StrategyRegistry
from tradedeck.strategies.scanner import LatestScan

COLUMNS = ("rank", "symbol", "timeframe", "signal", "score", "strategy", "last close", "error")


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    latest: LatestScan
    strong: float
    error: str | None  # the job itself failed (not a market): why


async def run_scan(
    settings: Settings, actor: Actor, markets: list[str], timeframes: list[str]
) -> ScanOutcome:
    """One full scan of the configured markets, or of ``markets`` in ``timeframes``.

    Unknown markets or timeframes, or a combination with nothing to scan, are InvalidInput
    before anything is stored.
    """
    repository = await open_repository(settings)
    try:
        marketdata = await MarketDataService.load(settings, repository)
        update: dict[str, Any] = {}
        if markets:
            update["scan_markets"] = _known_markets(markets, marketdata)
        if timeframes:
            update["scan_timeframes"] = _known_timeframes(timeframes)
        settings = settings.model_copy(update=update)
        strategies = await asyncio.to_thread(StrategyRegistry.load, settings.strategies_dir)
        # No bus: nobody would hear its signals here; the app's next scan announces them.
        scanner = build_scanner(settings, repository, marketdata, strategies, None)
        if not scanner.pairs():
            chosen = ", ".join(sorted(scanner.markets())) or "no market"
            raise InvalidInput(
                "nothing_to_scan",
                f"{chosen} cannot be scanned in {', '.join(settings.scan_timeframes)}: "
                "a timeframe must be a whole multiple of the market's recorded one",
            )
        scheduler = Scheduler()
        schedule_jobs(settings, scheduler, scanner)
        status = await JobsService(scheduler).run(actor, "scan", wait=True)
        latest = await scanner.latest(actor)
        return ScanOutcome(latest, settings.scan_strong_score, status.last_error)
    finally:
        await repository.engine.dispose()


def _known_markets(markets: list[str], marketdata: MarketDataService) -> list[str]:
    chosen = [normalize_symbol(m.replace("-", "/")) for m in markets]
    unknown = [s for s in chosen if s not in marketdata.markets]
    if unknown:
        raise InvalidInput(
            "unknown_market",
            f"unknown market {', '.join(unknown)}; known: {', '.join(marketdata.markets)}",
        )
    return list(dict.fromkeys(chosen))


def _known_timeframes(timeframes: list[str]) -> list[str]:
    chosen = [t.strip().lower() for t in timeframes]
    unknown = [t for t in chosen if t not in TIMEFRAME_SECONDS]
    if unknown:
        raise InvalidInput(
            "invalid_timeframe",
            f"unknown timeframe {', '.join(unknown)}; known: {', '.join(TIMEFRAME_SECONDS)}",
        )
    return list(dict.fromkeys(chosen))


# -- output ----------------------------------------------------------------------------------
def hint(outcome: ScanOutcome) -> str | None:
    """What to do when nothing could be scanned because no candles were ever stored."""
    results = outcome.latest.results
    if results and all(r.error and "stored yet" in r.error for r in results):
        return "no candles are stored yet: start `tradedeck run` once, it stores market history"
    return None


def _price(value: float | None) -> str:
    if value is None:
        return "-"
    return format(Decimal(repr(value)).normalize(), "f")


def _row(rank: int, r: ScanResult) -> tuple[str, ...]:
    return (
        str(rank),
        r.symbol,
        r.timeframe,
        "failed" if r.failed else r.signal,
        "-" if r.failed else f"{r.score:+.2f}",
        r.strategy or "-",
        _price(r.last_close),
        r.error or "",
    )


def table(outcome: ScanOutcome) -> str:
    """The ranking as plain aligned columns (strongest view first, failed markets last)."""
    latest = outcome.latest
    lines = []
    if latest.run is not None:
        run = latest.run
        lines.append(
            f"scan #{run.id} at {run.started_at:%Y-%m-%d %H:%M:%S} UTC: {latest.markets} markets, "
            f"{latest.failures} failed, strong at ±{outcome.strong:g}"
        )
    rows = [COLUMNS] + [_row(i, r) for i, r in enumerate(latest.results, start=1)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def as_json(outcome: ScanOutcome) -> str:
    """The same document as ``GET /api/v1/scans/latest``."""
    latest = outcome.latest
    run = latest.run
    document = {
        "scan": None
        if run is None
        else {
            "id": run.id,
            "kind": run.kind,
            "started_at": _time(run.started_at),
            "finished_at": _time(run.finished_at),
            "timeframes": list(run.timeframes),
            "markets": run.markets,
            "failures": run.failures,
        },
        "failures": latest.failures,
        "results": [
            {
                "rank": rank,
                "symbol": r.symbol,
                "timeframe": r.timeframe,
                "score": r.score,
                "signal": "failed" if r.failed else r.signal,
                "strategy": r.strategy,
                "indicators": r.indicators,
                "last_close": r.last_close,
                "candle_time": _time(r.candle_time),
                "error": r.error,
            }
            for rank, r in enumerate(latest.results, start=1)
        ],
    }
    return json.dumps(document, indent=2)
