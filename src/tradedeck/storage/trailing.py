"""Trailing stops in the database: created, listed, deleted, their peaks kept, and each one
triggered exactly once.

Triggering is a conditional update (``triggered_at IS NULL``): when two replicas see the
same falling candle, one of them wins the row and only that one sells. A peak only ever
moves the stop's way (up for a long, down for a short), so a replica that saw fewer
prices cannot undo another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.domain.roles import Role
from tradedeck.storage import models as m
from tradedeck.trading.trailing_rules import Guards, TrailingStop, TrailSpec, improves

_T = m.trailing_stops


class TrailingStopStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        user_id: int,
        spec: TrailSpec,
        peak: Decimal,
        created_at: datetime,
        guards: Guards = Guards.LONG,
    ) -> TrailingStop:
        values = {
            "guards": guards.value,
            "user_id": user_id,
            "symbol": spec.symbol,
            "trail_percent": spec.trail_percent,
            "amount": spec.amount,
            "peak": peak,
            "created_at": created_at,
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(_T).values(**values))
            stop_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return TrailingStop(
            stop_id,
            user_id,
            spec.symbol,
            spec.trail_percent,
            spec.amount,
            peak,
            created_at,
            guards=guards,
        )

    async def get(self, stop_id: int) -> TrailingStop | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(_T).where(_T.c.id == stop_id))).mappings().first()
        return _stop(row) if row else None

    async def list_stops(
        self, user_id: int | None = None, *, limit: int = 200
    ) -> list[TrailingStop]:
        """Newest first; one user's, or everybody's with ``user_id=None``."""
        query = select(_T).order_by(_T.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(_T.c.user_id == user_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_stop(r) for r in rows]

    async def active(self) -> list[TrailingStop]:
        """Every stop still watching its market, oldest first."""
        query = select(_T).where(_T.c.triggered_at.is_(None)).order_by(_T.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_stop(r) for r in rows]

    async def count_active(self, user_id: int) -> int:
        query = select(func.count()).where(_T.c.user_id == user_id, _T.c.triggered_at.is_(None))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def delete(self, stop_id: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(_T).where(_T.c.id == stop_id))
        return bool(result.rowcount)

    async def raise_peaks(self, peaks: Sequence[tuple[int, Decimal]]) -> None:
        """Store peaks that moved, for active stops, in one transaction; a stored peak that
        is already further (another replica's) stays. The comparison is made here, not in
        SQL: on SQLite money is text, which does not compare as numbers."""
        if not peaks:
            return
        async with self.engine.begin() as conn:
            for stop_id, peak in peaks:
                stored = (
                    await conn.execute(
                        select(_T.c.peak, _T.c.guards)
                        .where(_T.c.id == stop_id, _T.c.triggered_at.is_(None))
                        .with_for_update()
                    )
                ).first()
                if stored is not None and improves(Guards(stored.guards), peak, stored.peak):
                    await conn.execute(update(_T).where(_T.c.id == stop_id).values(peak=peak))

    async def trigger_many(
        self, hits: Sequence[tuple[int, Decimal, Decimal]], at: datetime
    ) -> list[int]:
        """Trigger several stops (id, trigger price, final peak) in one transaction; the
        ids this call won, in order."""
        won: list[int] = []
        if not hits:
            return won
        async with self.engine.begin() as conn:
            for stop_id, price, peak in hits:
                result = await conn.execute(
                    update(_T)
                    .where(_T.c.id == stop_id, _T.c.triggered_at.is_(None))
                    .values(triggered_at=at, trigger_price=price, peak=peak)
                )
                if result.rowcount:
                    won.append(stop_id)
        return won

    async def record_outcome(self, stop_id: int, order_id: str | None, reason: str | None) -> None:
        """What the sell of a triggered stop came to: its order, or why there is none."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(_T).where(_T.c.id == stop_id).values(order_id=order_id, reason=reason)
            )

    async def owner(self, user_id: int) -> tuple[str, Role] | None:
        """The name and current role of an active user; ``None`` once revoked or gone."""
        query = select(m.users.c.name, m.users.c.role).where(
            m.users.c.id == user_id, m.users.c.disabled_at.is_(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.name, Role(row.role)) if row else None


def _stop(row: Any) -> TrailingStop:
    return TrailingStop(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        symbol=row["symbol"],
        trail_percent=row["trail_percent"],
        amount=row["amount"],
        peak=row["peak"],
        created_at=row["created_at"],
        triggered_at=row["triggered_at"],
        trigger_price=row["trigger_price"],
        order_id=row["order_id"],
        reason=row["reason"],
        guards=Guards(row["guards"]),
    )
