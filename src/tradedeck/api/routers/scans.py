"""The market scanner's results and the scheduled jobs: reads for every role, a manual
job run for admins (both checked in the services)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tradedeck.api.deps import ActorDep, ServicesDep
from tradedeck.jobs.scheduler import JobStatus
from tradedeck.storage.scans import HistoryEntry, ScanResult, ScanRun

router = APIRouter(prefix="/api/v1", tags=["scans"])


class ScanRunOut(BaseModel):
    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    timeframes: list[str]
    markets: int
    failures: int

    @classmethod
    def of(cls, run: ScanRun) -> ScanRunOut:
        return cls(
            id=run.id,
            kind=run.kind,
            started_at=run.started_at,
            finished_at=run.finished_at,
            timeframes=list(run.timeframes),
            markets=run.markets,
            failures=run.failures,
        )


class ScanResultOut(BaseModel):
    symbol: str
    timeframe: str
    score: float
    signal: str
    strategy: str | None
    indicators: dict[str, float | None]
    last_close: float | None
    candle_time: datetime | None
    error: str | None

    @classmethod
    def fields_of(cls, r: ScanResult) -> dict[str, object]:
        return {
            "symbol": r.symbol,
            "timeframe": r.timeframe,
            "score": r.score,
            "signal": r.signal if not r.failed else "failed",
            "strategy": r.strategy,
            "indicators": r.indicators,
            "last_close": r.last_close,
            "candle_time": r.candle_time,
            "error": r.error,
        }


class RankedResultOut(ScanResultOut):
    rank: int


class LatestScanOut(BaseModel):
    scan: ScanRunOut | None
    failures: int  # failed now: a revalidation since the scan may have fixed some
    results: list[RankedResultOut]


class HistoryOut(ScanResultOut):
    scan_id: int
    scanned_at: datetime

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        return cls.model_validate(
            {
                "scan_id": entry.scan_id,
                "scanned_at": entry.scanned_at,
                **cls.fields_of(entry.result),
            }
        )


class JobOut(BaseModel):
    name: str
    interval_seconds: float
    running: bool
    last_started: datetime | None
    last_finished: datetime | None
    last_duration_ms: float | None
    last_outcome: str | None
    last_error: str | None
    next_run: datetime | None
    runs: int
    failures: int

    @classmethod
    def of(cls, status: JobStatus) -> JobOut:
        return cls(
            name=status.name,
            interval_seconds=status.interval,
            running=status.running,
            last_started=status.last_started,
            last_finished=status.last_finished,
            last_duration_ms=status.last_duration_ms,
            last_outcome=status.last_outcome,
            last_error=status.last_error,
            next_run=status.next_run,
            runs=status.runs,
            failures=status.failures,
        )


def _symbol(raw: str) -> str:
    """ETH-BTC and eth_btc as ETH/BTC (a slash cannot sit in a path segment)."""
    return raw.replace("-", "/").replace("_", "/").upper()


@router.get("/scans/latest")
async def latest_scan(actor: ActorDep, services: ServicesDep) -> LatestScanOut:
    """The newest scan, markets ranked by signal strength (failed markets last)."""
    latest = await services.scanner.latest(actor)
    return LatestScanOut(
        scan=ScanRunOut.of(latest.run) if latest.run else None,
        failures=latest.failures,
        results=[
            RankedResultOut.model_validate({"rank": i, **ScanResultOut.fields_of(r)})
            for i, r in enumerate(latest.results, start=1)
        ],
    )


@router.get("/scans/{symbol}/history")
async def scan_history(
    symbol: str,
    actor: ActorDep,
    services: ServicesDep,
    timeframe: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[HistoryOut]:
    """One market's results, newest first."""
    entries = await services.scanner.history(actor, _symbol(symbol), timeframe, limit)
    return [HistoryOut.of(e) for e in entries]


@router.get("/jobs")
async def list_jobs(actor: ActorDep, services: ServicesDep) -> list[JobOut]:
    return [JobOut.of(s) for s in services.jobs.status(actor)]


@router.post("/jobs/{name}/run", status_code=202)
async def run_job(name: str, actor: ActorDep, services: ServicesDep, wait: bool = False) -> JobOut:
    """Start a job now (admin); ``wait=true`` answers once the run finished."""
    return JobOut.of(await services.jobs.run(actor, name, wait=wait))
