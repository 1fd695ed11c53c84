"""Scans and their results: written once per scan, read as "the latest" and "one market's
history".

A scan and all its results are one transaction, so a reader never sees half a scan. A
revalidation (a rescan of only the markets that failed) is stored as a scan of its own;
"the latest" is the newest full scan with any later revalidation laid over it, so a
market that recovered shows its fresh result without waiting for the next full scan.
Candles are read here as plain float columns: the scanner needs arrays, not Decimals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, cast, delete, func, insert, select
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.storage import models as m

ScanKind = Literal["full", "revalidate"]
FULL: ScanKind = "full"
REVALIDATE: ScanKind = "revalidate"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One market on one timeframe in one scan; ``error`` set means it could not be scanned."""

    symbol: str
    timeframe: str
    score: float = 0.0
    signal: str = "none"
    strategy: str | None = None
    indicators: dict[str, float | None] = field(default_factory=dict)
    last_close: float | None = None
    candle_time: datetime | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def key(self) -> tuple[str, str]:
        return (self.symbol, self.timeframe)


@dataclass(frozen=True, slots=True)
class ScanRun:
    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    timeframes: tuple[str, ...]
    markets: int
    failures: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    scan_id: int
    scanned_at: datetime
    result: ScanResult


@dataclass(frozen=True, slots=True)
class CandleArrays:
    """Recent candles of one market as columns, oldest first; ``ts`` in epoch ms."""

    ts: np.ndarray[Any, np.dtype[np.int64]]
    open: np.ndarray[Any, np.dtype[np.float64]]
    high: np.ndarray[Any, np.dtype[np.float64]]
    low: np.ndarray[Any, np.dtype[np.float64]]
    close: np.ndarray[Any, np.dtype[np.float64]]
    volume: np.ndarray[Any, np.dtype[np.float64]]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


class ScanStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self,
        kind: ScanKind,
        started_at: datetime,
        finished_at: datetime,
        timeframes: Sequence[str],
        results: Sequence[ScanResult],
        *,
        announced: bool = True,
    ) -> ScanRun:
        """Store a scan and its results in one transaction; returns the stored scan.
        ``announced``: its new strong signals were published on the app's bus."""
        run_values = {
            "kind": kind,
            "started_at": started_at,
            "finished_at": finished_at,
            "timeframes": ",".join(timeframes)[:200],
            "markets": len({r.symbol for r in results}),
            "failures": sum(1 for r in results if r.failed),
        }
        async with self.engine.begin() as conn:
            inserted = await conn.execute(insert(m.scans).values(**run_values, announced=announced))
            scan_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            if results:
                await conn.execute(
                    insert(m.scan_results), [_result_row(scan_id, r) for r in results]
                )
        return _run({"id": scan_id, **run_values})

    async def latest(
        self, *, announced_only: bool = False
    ) -> tuple[ScanRun | None, list[ScanResult]]:
        """The newest full scan with later revalidations laid over it (newest wins); with
        ``announced_only``, of the scans whose signals were announced alone."""
        s, r = m.scans.c, m.scan_results.c
        full = select(m.scans).where(s.kind == FULL)
        if announced_only:
            full = full.where(s.announced)
        async with self.engine.connect() as conn:
            row = (await conn.execute(full.order_by(s.id.desc()).limit(1))).mappings().first()
            if row is None:
                return None, []
            results = select(m.scan_results).where(r.scan_id >= row["id"])
            if announced_only:
                results = results.where(r.scan_id.in_(select(s.id).where(s.announced)))
            rows = (await conn.execute(results.order_by(r.scan_id, r.id))).mappings().all()
        merged: dict[tuple[str, str], ScanResult] = {}
        for result_row in rows:
            result = _result(result_row)
            merged[result.key] = result
        return _run(row), list(merged.values())

    async def history(
        self, symbol: str, timeframe: str | None = None, limit: int = 50
    ) -> list[HistoryEntry]:
        """One market's results, newest first, with the time of the scan each came from."""
        s, r = m.scans.c, m.scan_results.c
        query = (
            select(m.scan_results, s.started_at.label("scanned_at"))
            .join(m.scans, s.id == r.scan_id)
            .where(r.symbol == symbol)
        )
        if timeframe is not None:
            query = query.where(r.timeframe == timeframe)
        query = query.order_by(r.scan_id.desc(), r.id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [HistoryEntry(row["scan_id"], row["scanned_at"], _result(row)) for row in rows]

    async def prune(self, before: datetime) -> int:
        """Forget scans started before ``before`` (their results go with them)."""
        s = m.scans.c
        async with self.engine.begin() as conn:
            old = select(s.id).where(s.started_at < before).scalar_subquery()
            await conn.execute(delete(m.scan_results).where(m.scan_results.c.scan_id.in_(old)))
            deleted = await conn.execute(delete(m.scans).where(s.started_at < before))
        return int(deleted.rowcount or 0)

    def _epoch_ms(self) -> ColumnElement[Any]:
        """Open times as epoch milliseconds computed by the database: turning 100,000 rows
        into datetimes and back would cost more than the whole scan's arithmetic."""
        opened = m.candles.c.opened_at
        if self.engine.dialect.name == "postgresql":
            return cast(func.extract("epoch", opened) * 1000, DOUBLE_PRECISION)
        # SQLite keeps the naive UTC text; julianday() reads it with sub-second precision.
        return (func.julianday(opened) - 2440587.5) * 86_400_000.0

    async def candles(self, symbol: str, timeframe: str, limit: int) -> CandleArrays:
        """The newest ``limit`` stored candles of a market as float columns, oldest first."""
        c = m.candles.c
        query = (
            select(self._epoch_ms(), c.open, c.high, c.low, c.close, c.volume)
            .where(c.symbol == symbol, c.timeframe == timeframe)
            .order_by(c.opened_at.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        # fromiter over the flattened rows: numpy reading Row objects one by one as
        # sequences costs ten times the query itself.
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=len(rows) * 6)
        values = flat.reshape(len(rows), 6)[::-1]
        return CandleArrays(
            ts=np.rint(values[:, 0]).astype(np.int64),
            open=values[:, 1].copy(),
            high=values[:, 2].copy(),
            low=values[:, 3].copy(),
            close=values[:, 4].copy(),
            volume=values[:, 5].copy(),
        )


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _result_row(scan_id: int, result: ScanResult) -> dict[str, Any]:
    indicators = {k: _finite(v) for k, v in result.indicators.items()}
    return {
        "scan_id": scan_id,
        "symbol": result.symbol,
        "timeframe": result.timeframe,
        "score": _finite(result.score) or 0.0,
        "signal": result.signal,
        "strategy": result.strategy,
        "indicators": json.dumps(indicators, sort_keys=True) if indicators else None,
        "last_close": _finite(result.last_close),
        "candle_time": result.candle_time,
        "error": result.error[:1000] if result.error else None,
    }


def _result(row: RowMapping) -> ScanResult:
    raw = json.loads(row["indicators"]) if row["indicators"] else {}
    return ScanResult(
        symbol=row["symbol"],
        timeframe=row["timeframe"],
        score=float(row["score"]),
        signal=row["signal"],
        strategy=row["strategy"],
        indicators={str(k): (None if v is None else float(v)) for k, v in raw.items()},
        last_close=row["last_close"],
        candle_time=row["candle_time"],
        error=row["error"],
    )


def _run(row: RowMapping | dict[str, Any]) -> ScanRun:
    timeframes = str(row["timeframes"])
    return ScanRun(
        id=int(row["id"]),
        kind=str(row["kind"]),
        started_at=row["started_at"].astimezone(UTC),
        finished_at=row["finished_at"],
        timeframes=tuple(t for t in timeframes.split(",") if t),
        markets=int(row["markets"]),
        failures=int(row["failures"]),
    )
