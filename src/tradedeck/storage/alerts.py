"""Price alerts in the database: created, listed, deleted, and fired exactly once.

Firing is a conditional update (``triggered_at IS NULL``): when two replicas see the
same crossing candle, one of them wins the row and only that one announces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.alerts.rules import AlertSpec, Op, PriceAlert
from tradedeck.storage import models as m

_T = m.price_alerts


class AlertStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, user_id: int, spec: AlertSpec, created_at: datetime) -> PriceAlert:
        values = {
            "user_id": user_id,
            "symbol": spec.symbol,
            "op": spec.op.value,
            "price": spec.price,
            "created_at": created_at,
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(_T).values(**values))
            alert_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return PriceAlert(alert_id, user_id, spec.symbol, spec.op, spec.price, created_at)

    async def get(self, alert_id: int) -> PriceAlert | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(_T).where(_T.c.id == alert_id))).mappings().first()
        return _alert(row) if row else None

    async def list_alerts(
        self, user_id: int | None = None, *, limit: int = 200
    ) -> list[PriceAlert]:
        """Newest first; one user's, or everybody's with ``user_id=None``."""
        query = select(_T).order_by(_T.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(_T.c.user_id == user_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_alert(r) for r in rows]

    async def active(self) -> list[PriceAlert]:
        """Every alert still waiting for its crossing, oldest first."""
        query = select(_T).where(_T.c.triggered_at.is_(None)).order_by(_T.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_alert(r) for r in rows]

    async def count_active(self, user_id: int) -> int:
        query = select(func.count()).where(_T.c.user_id == user_id, _T.c.triggered_at.is_(None))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def delete(self, alert_id: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(_T).where(_T.c.id == alert_id))
        return bool(result.rowcount)

    async def trigger_many(self, hits: Sequence[tuple[int, Decimal]], at: datetime) -> list[int]:
        """Fire several alerts in one transaction; the ids this call won, in order."""
        won: list[int] = []
        if not hits:
            return won
        async with self.engine.begin() as conn:
            for alert_id, price in hits:
                result = await conn.execute(
                    update(_T)
                    .where(_T.c.id == alert_id, _T.c.triggered_at.is_(None))
                    .values(triggered_at=at, triggered_price=price)
                )
                if result.rowcount:
                    won.append(alert_id)
        return won


def _alert(row: Any) -> PriceAlert:
    return PriceAlert(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        symbol=row["symbol"],
        op=Op(row["op"]),
        price=row["price"],
        created_at=row["created_at"],
        triggered_at=row["triggered_at"],
        triggered_price=row["triggered_price"],
    )
