"""The one place that speaks SQL. Services call these methods; each method is one
transaction, and a trading update (orders, fills, balances, positions, state history)
is written in a single transaction so a failure leaves nothing half-written."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Table, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict
from tradedeck.domain.money import ZERO, from_float
from tradedeck.domain.orders import Fill, Order, OrderRole, OrderStatus, OrderType, Side
from tradedeck.domain.positions import Position
from tradedeck.domain.roles import Role
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.storage import hop
from tradedeck.storage import models as m
from tradedeck.storage.compiled import CompiledWrite, compiled_query
from tradedeck.storage.direct_pg import DirectConnection
from tradedeck.storage.direct_sqlite import DirectSqlite
from tradedeck.storage.one_statement import OneStatementWriter, Target
from tradedeck.storage.records import (  # re-exported: callers know them from here
    KillSwitchActiveInStore as KillSwitchActiveInStore,
)
from tradedeck.storage.records import KillSwitchState as KillSwitchState

T = TypeVar("T")

_ORDER_FIELDS = [f.name for f in dataclasses.fields(Order)]
_FILL_COLUMNS = [c.name for c in m.fills.columns]
# The stored kill switch when it is on (no row: trading may go on).
_HALTED = select(m.kill_switch.c.reason).where(m.kill_switch.c.id == 1, m.kill_switch.c.active)
# The tables an exchange update writes, in order (orders first: the others refer to them),
# and the keys whose stored rows a newer row replaces.
_ORDERS = Target(m.orders, ("id",))
_ORDER_EVENTS = Target(m.order_events)
_FILLS = Target(m.fills)
_BALANCES = Target(m.balances, ("asset",))
_POSITIONS = Target(m.positions, ("symbol",))
_UPDATE_TABLES = (_ORDERS, _ORDER_EVENTS, _FILLS, _BALANCES, _POSITIONS)
OPEN_STATUSES = (OrderStatus.NEW.value, OrderStatus.OPEN.value, OrderStatus.PARTIALLY_FILLED.value)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    telegram_id: int | None
    created_at: datetime
    disabled_at: datetime | None = None
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class SignalRecord:
    id: str
    received_at: datetime
    payload: str
    status: str
    order_id: str | None
    reason: str | None
    updated_at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Repository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._upserts: dict[str, Any] = {}
        self._writes: dict[str, CompiledWrite] = {}
        self._kill_read = compiled_query(_HALTED, engine.dialect)
        # PostgreSQL writes an update in one statement. What a power cut could take from
        # its commits (see OneStatementWriter), the exchange still holds: the reconciler
        # restores it at start. Nothing else writes through it.
        self._pg = DirectConnection(engine) if self._dialect == "postgresql" else None
        self._writer = (
            OneStatementWriter(self._pg, _UPDATE_TABLES, _HALTED) if self._pg is not None else None
        )
        # A SQLite file: the order path's reads and writes have a connection of their own.
        self._sqlite = DirectSqlite.for_engine(engine)

    # -- helpers ---------------------------------------------------------------------
    def _insert(self, table: Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    def _upsert_of(self, table: Table, keys: list[str]) -> Any:
        stmt = self._upserts.get(table.name)
        if stmt is None:
            # Building an upsert costs more than running it; build each table's once.
            base = self._insert(table)
            updates = {c.name: base.excluded[c.name] for c in table.columns if c.name not in keys}
            stmt = base.on_conflict_do_update(index_elements=keys, set_=updates)
            self._upserts[table.name] = stmt
        return stmt

    async def _upsert(
        self, conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]
    ) -> None:
        if rows:
            await conn.execute(self._upsert_of(table, keys), rows[0] if len(rows) == 1 else rows)

    # -- users and tokens ------------------------------------------------------------
    async def create_user(
        self,
        name: str,
        role: Role,
        telegram_id: int | None,
        token_hash: str,
        token_prefix: str,
    ) -> User:
        now = _utcnow()
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    insert(m.users).values(
                        name=name, role=role.value, telegram_id=telegram_id, created_at=now
                    )
                )
                user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
                await conn.execute(
                    insert(m.api_tokens).values(
                        user_id=user_id, token_hash=token_hash, prefix=token_prefix, created_at=now
                    )
                )
        except IntegrityError:
            raise Conflict(
                "user_exists", f"a user named {name!r} or with that Telegram id already exists"
            ) from None
        return User(user_id, name, role, telegram_id, now, tokens=1)

    async def user_by_token_hash(self, token_hash: str) -> User | None:
        query = (
            select(m.users)
            .join(m.api_tokens, m.api_tokens.c.user_id == m.users.c.id)
            .where(
                m.api_tokens.c.token_hash == token_hash,
                m.api_tokens.c.revoked_at.is_(None),
                m.users.c.disabled_at.is_(None),
            )
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _user(row) if row else None

    async def user_by_telegram_id(self, telegram_id: int) -> User | None:
        query = select(m.users).where(
            m.users.c.telegram_id == telegram_id, m.users.c.disabled_at.is_(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _user(row) if row else None

    async def ensure_telegram_admin(self, telegram_id: int) -> User:
        """The user behind a bootstrap admin id, created (as tg<id>, admin) when missing."""
        existing = await self.user_by_telegram_id(telegram_id)
        if existing is not None:
            return existing
        now = _utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(m.users).values(
                    name=f"tg{telegram_id}",
                    role=Role.ADMIN.value,
                    telegram_id=telegram_id,
                    created_at=now,
                )
            )
            user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return User(user_id, f"tg{telegram_id}", Role.ADMIN, telegram_id, now)

    async def telegram_users(self) -> list[User]:
        """Active users who can be reached on Telegram."""
        query = (
            select(m.users)
            .where(m.users.c.telegram_id.is_not(None), m.users.c.disabled_at.is_(None))
            .order_by(m.users.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_user(r) for r in rows]

    async def notification_levels(self, user_id: int) -> dict[str, str]:
        query = select(m.notification_levels.c.event_group, m.notification_levels.c.level).where(
            m.notification_levels.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            return {group: level for group, level in (await conn.execute(query)).all()}

    async def set_notification_level(self, user_id: int, group: str, level: str) -> None:
        async with self.engine.begin() as conn:
            await self._upsert(
                conn,
                m.notification_levels,
                [{"user_id": user_id, "event_group": group, "level": level}],
                ["user_id", "event_group"],
            )

    async def list_users(self) -> list[User]:
        active_tokens = (
            select(func.count())
            .where(m.api_tokens.c.user_id == m.users.c.id, m.api_tokens.c.revoked_at.is_(None))
            .scalar_subquery()
        )
        query = select(m.users, active_tokens.label("tokens")).order_by(m.users.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_user(r, tokens=int(r["tokens"])) for r in rows]

    async def revoke_user(self, name: str) -> bool:
        """Disable the user and revoke every token they hold; False when no such user."""
        now = _utcnow()
        async with self.engine.begin() as conn:
            user_id = (
                await conn.execute(select(m.users.c.id).where(m.users.c.name == name))
            ).scalar()
            if user_id is None:
                return False
            await conn.execute(
                update(m.api_tokens)
                .where(m.api_tokens.c.user_id == user_id, m.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await conn.execute(
                update(m.users).where(m.users.c.id == user_id).values(disabled_at=now)
            )
        return True

    # -- trading state -----------------------------------------------------------------
    async def load_balances(self) -> list[Balance]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(m.balances))).mappings().all()
        return [Balance(r["asset"], r["free"], r["reserved"]) for r in rows]

    async def seed_balances(self, initial: dict[str, Decimal]) -> bool:
        """Give a new paper account its starting funds; False when it already has balances."""
        now = _utcnow()
        async with self.engine.begin() as conn:
            count = (await conn.execute(select(func.count()).select_from(m.balances))).scalar()
            if count:
                return False
            rows = [
                {"asset": a, "free": v, "reserved": ZERO, "updated_at": now}
                for a, v in initial.items()
            ]
            if rows:
                await conn.execute(insert(m.balances), rows)
        return True

    async def load_open_orders(self) -> list[Order]:
        query = (
            select(m.orders)
            .where(m.orders.c.status.in_(OPEN_STATUSES))
            .order_by(m.orders.c.created_at, m.orders.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_order(r) for r in rows]

    async def load_positions(self) -> list[Position]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(m.positions))).mappings().all()
        return [
            Position(
                r["symbol"],
                r["amount"],
                r["average_entry"],
                r["realized_pnl"],
                r["opened_at"],
                r["updated_at"],
            )
            for r in rows
        ]

    async def save_update(
        self,
        update_: ExchangeUpdate,
        positions: Iterable[Position],
        *,
        require_kill_switch_off: bool = False,
    ) -> None:
        """Persist one exchange update atomically, with each order's new state in its history.

        With ``require_kill_switch_off`` the stored kill switch is read inside the same
        transaction, so a switch set by another process (the watchdog) blocks the write.
        One round trip (``hop``): this is the write every order and fill waits for.
        """
        now = _utcnow()
        orders = [_order_row(o) for o in update_.orders]
        events = [
            {
                "order_id": o.id,
                "status": o.status.value,
                "filled": o.filled,
                "reason": o.status_reason,
                "at": o.updated_at,
            }
            for o in update_.orders
        ]
        fills = [_fill_row(f) for f in update_.fills]
        balances = [
            {"asset": b.asset, "free": b.free, "reserved": b.reserved, "updated_at": now}
            for b in update_.balances
        ]
        held = [
            {
                "symbol": p.symbol,
                "amount": p.amount,
                "average_entry": p.average_entry,
                "realized_pnl": p.realized_pnl,
                "opened_at": p.opened_at,
                "updated_at": p.updated_at,
            }
            for p in positions
        ]

        per_table: tuple[Sequence[Mapping[str, Any]], ...] = (orders, events, fills, balances, held)
        tables = zip(_UPDATE_TABLES, per_table, strict=True)
        if self._writer is not None:
            rows = {target.table.name: table_rows for target, table_rows in tables}
            halted = await self._writer.write(rows, guarded=require_kill_switch_off)
            if halted is not None:
                raise _halted(halted["reason"])
            return

        kill_read = self._kill_read
        writes = [(self._compiled_write(t), table_rows) for t, table_rows in tables if table_rows]

        def write(dbapi: Any) -> None:
            cursor = dbapi.cursor()
            if require_kill_switch_off:
                _refuse_if_halted(cursor, kill_read)
            for statement, rows in writes:
                statement.run(cursor, rows)

        await self._order_transaction(write)

    def _compiled_write(self, target: Target) -> CompiledWrite:
        found = self._writes.get(target.table.name)
        if found is None:
            keys = list(target.keys)
            statement = self._upsert_of(target.table, keys) if keys else insert(target.table)
            found = CompiledWrite.of(statement, target.table, self.engine.dialect)
            self._writes[target.table.name] = found
        return found

    async def check_kill_switch_off(self) -> None:
        """Refuse with ``kill_switch_active`` when the stored switch is on: a live order
        must not leave at all once another process (the watchdog) has halted trading."""
        await self.kill_switch_gate()

    def kill_switch_gate(self) -> asyncio.Future[None]:
        """:meth:`check_kill_switch_off`, started: on a SQLite file the read is handed to
        its thread before this returns, so it is under way while the caller goes on
        (building the order's request); elsewhere it starts at the caller's next wait."""
        if self._pg is not None:
            return asyncio.ensure_future(self._pg_kill_check())
        return self._order_transaction(self._kill_check, write=False)

    async def _pg_kill_check(self) -> None:
        assert self._pg is not None
        halted = await self._pg.fetchrow(self._kill_read, read_only=True)
        if halted is not None:
            raise _halted(halted["reason"])

    def _kill_check(self, dbapi: Any) -> None:
        _refuse_if_halted(dbapi.cursor(), self._kill_read)

    def _order_transaction(self, work: hop.Work[T], *, write: bool = True) -> asyncio.Future[T]:
        """Where the order path's SQLite transactions run: on its own connection to a
        database file (already started), through the engine otherwise."""
        if self._sqlite is not None:
            return self._sqlite.submit(work, write=write)
        return asyncio.ensure_future(hop.transaction(self.engine, work, write=write))

    async def fill_ids(self, order_ids: Iterable[str]) -> set[str]:
        """The ids of the fills stored for these orders (reconciliation never counts an
        execution twice)."""
        wanted = list(order_ids)
        if not wanted:
            return set()
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(m.fills.c.id).where(m.fills.c.order_id.in_(wanted)))
            return {row[0] for row in rows}

    async def get_order(self, order_id: str) -> Order | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(m.orders).where(m.orders.c.id == order_id)))
                .mappings()
                .first()
            )
        return _order(row) if row else None

    async def get_order_by_client_id(
        self, user_id: int | None, client_order_id: str
    ) -> Order | None:
        query = select(m.orders).where(
            m.orders.c.client_order_id == client_order_id,
            m.orders.c.user_id.is_(None) if user_id is None else m.orders.c.user_id == user_id,
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _order(row) if row else None

    async def list_orders(
        self,
        *,
        statuses: Sequence[OrderStatus] | None = None,
        symbol: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Order]:
        query = select(m.orders)
        if statuses:
            query = query.where(m.orders.c.status.in_([s.value for s in statuses]))
        if symbol:
            query = query.where(m.orders.c.symbol == symbol)
        query = (
            query.order_by(m.orders.c.created_at.desc(), m.orders.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_order(r) for r in rows]

    async def order_history(self, order_id: str) -> list[dict[str, Any]]:
        query = (
            select(m.order_events)
            .where(m.order_events.c.order_id == order_id)
            .order_by(m.order_events.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [dict(r) for r in rows]

    async def list_fills(
        self,
        *,
        symbol: str | None = None,
        order_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Fill]:
        query = select(m.fills)
        if symbol:
            query = query.where(m.fills.c.symbol == symbol)
        if order_id:
            query = query.where(m.fills.c.order_id == order_id)
        if since:
            query = query.where(m.fills.c.timestamp >= since)
        query = (
            query.order_by(m.fills.c.timestamp.desc(), m.fills.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_fill(r) for r in rows]

    # -- kill switch and settings -----------------------------------------------------------
    async def get_kill_switch(self) -> KillSwitchState:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(m.kill_switch).where(m.kill_switch.c.id == 1)))
                .mappings()
                .first()
            )
        if row is None:
            return KillSwitchState(active=False)
        return KillSwitchState(row["active"], row["reason"], row["actor"], row["changed_at"])

    async def set_kill_switch(self, state: KillSwitchState) -> None:
        async with self.engine.begin() as conn:
            await self._upsert(
                conn,
                m.kill_switch,
                [
                    {
                        "id": 1,
                        "active": state.active,
                        "reason": state.reason,
                        "actor": state.actor,
                        "changed_at": state.changed_at,
                    }
                ],
                ["id"],
            )

    async def get_setting(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            value = (
                await conn.execute(select(m.settings_kv.c.value).where(m.settings_kv.c.key == key))
            ).scalar()
        return None if value is None else str(value)

    async def set_setting(self, key: str, value: str, updated_by: str) -> None:
        async with self.engine.begin() as conn:
            await self._upsert(
                conn,
                m.settings_kv,
                [{"key": key, "value": value, "updated_by": updated_by, "updated_at": _utcnow()}],
                ["key"],
            )

    async def day_equity(self, day: date) -> tuple[Decimal, Decimal] | None:
        query = select(m.daily_equity.c.start_equity, m.daily_equity.c.low_equity).where(
            m.daily_equity.c.day == day
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row[0], row[1]) if row else None

    async def record_day_equity(self, day: date, currency: str, equity: Decimal) -> Decimal:
        """Remember the first equity seen on ``day`` (and the lowest); return the day's start."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(m.daily_equity.c.start_equity, m.daily_equity.c.low_equity).where(
                        m.daily_equity.c.day == day
                    )
                )
            ).first()
            if row is None:
                await conn.execute(
                    insert(m.daily_equity).values(
                        day=day, currency=currency, start_equity=equity, low_equity=equity
                    )
                )
                return equity
            if equity < row[1]:
                await conn.execute(
                    update(m.daily_equity)
                    .where(m.daily_equity.c.day == day)
                    .values(low_equity=equity)
                )
            return Decimal(row[0])

    # -- candles -----------------------------------------------------------------------------
    async def upsert_candles(self, items: Sequence[Candle]) -> None:
        rows = [
            {
                "symbol": c.symbol,
                "timeframe": c.timeframe,
                "opened_at": c.opened_at,
                "open": float(c.open),
                "high": float(c.high),
                "low": float(c.low),
                "close": float(c.close),
                "volume": float(c.volume),
            }
            for c in items
        ]
        async with self.engine.begin() as conn:
            await self._upsert(conn, m.candles, rows, ["symbol", "timeframe", "opened_at"])

    async def list_candles(
        self, symbol: str, timeframe: str, *, limit: int = 200, before: datetime | None = None
    ) -> list[Candle]:
        c = m.candles.c
        query = select(m.candles).where(c.symbol == symbol, c.timeframe == timeframe)
        if before is not None:
            query = query.where(c.opened_at < before)
        query = query.order_by(c.opened_at.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            Candle(
                r["symbol"],
                r["timeframe"],
                r["opened_at"],
                from_float(r["open"]),
                from_float(r["high"]),
                from_float(r["low"]),
                from_float(r["close"]),
                from_float(r["volume"]),
            )
            for r in reversed(rows)
        ]

    async def prune_candles(self, symbol: str, timeframe: str, keep_after: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(m.candles).where(
                    and_(
                        m.candles.c.symbol == symbol,
                        m.candles.c.timeframe == timeframe,
                        m.candles.c.opened_at < keep_after,
                    )
                )
            )

    # -- signals -----------------------------------------------------------------------------
    async def insert_signal(self, signal_id: str, nonce: str, payload: str) -> bool:
        """Store a received signal; False when its nonce was seen before (a replay)."""
        now = _utcnow()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(m.signals).values(
                        id=signal_id,
                        received_at=now,
                        nonce=nonce,
                        payload=payload,
                        status="queued",
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def update_signal(
        self, signal_id: str, status: str, order_id: str | None = None, reason: str | None = None
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(m.signals)
                .where(m.signals.c.id == signal_id)
                .values(status=status, order_id=order_id, reason=reason, updated_at=_utcnow())
            )

    async def expire_queued_signals(self, reason: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(m.signals)
                .where(m.signals.c.status == "queued")
                .values(status="expired", reason=reason, updated_at=_utcnow())
            )
        return int(result.rowcount or 0)

    async def get_signal(self, signal_id: str) -> SignalRecord | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(m.signals).where(m.signals.c.id == signal_id)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return SignalRecord(
            row["id"],
            row["received_at"],
            row["payload"],
            row["status"],
            row["order_id"],
            row["reason"],
            row["updated_at"],
        )

    # -- audit -------------------------------------------------------------------------------
    async def audit(
        self,
        actor: str,
        channel: str,
        action: str,
        outcome: str,
        detail: str | None = None,
        *,
        chat_id: int | None = None,
        update_id: int | None = None,
        latency_ms: float | None = None,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(m.audit_log).values(
                    at=_utcnow(),
                    actor=actor,
                    channel=channel,
                    action=action[:64],
                    outcome=outcome[:16],
                    detail=detail,
                    chat_id=chat_id,
                    update_id=update_id,
                    latency_ms=latency_ms,
                )
            )

    async def audit_many(self, records: Sequence[Any]) -> None:
        """Write audit records (objects with the audit_log columns as attributes)."""
        columns = [c.name for c in m.audit_log.columns if c.name != "id"]
        rows = [{name: getattr(r, name) for name in columns} for r in records]
        async with self.engine.begin() as conn:
            await conn.execute(insert(m.audit_log), rows)

    async def list_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        query = select(m.audit_log).order_by(m.audit_log.c.id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [dict(r) for r in rows]


def _user(row: Any, tokens: int = 0) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        telegram_id=row["telegram_id"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        tokens=tokens,
    )


def _order_row(order: Order) -> dict[str, Any]:
    row = {name: getattr(order, name) for name in _ORDER_FIELDS}
    for key in ("side", "type", "status", "role"):
        row[key] = row[key].value
    return row


def _order(row: Any) -> Order:
    values = {name: row[name] for name in _ORDER_FIELDS}
    values["side"] = Side(values["side"])
    values["type"] = OrderType(values["type"])
    values["status"] = OrderStatus(values["status"])
    values["role"] = OrderRole(values["role"])
    return Order(**values)


def _fill_row(fill: Fill) -> dict[str, Any]:
    row = {name: getattr(fill, name) for name in _FILL_COLUMNS}
    row["side"] = fill.side.value
    return row


def _fill(row: Any) -> Fill:
    values = {name: row[name] for name in _FILL_COLUMNS}
    values["side"] = Side(values["side"])
    return Fill(**values)


def _refuse_if_halted(cursor: Any, kill_read: str) -> None:
    """Inside a transaction's body (DB-API): refuse when the stored switch is on."""
    cursor.execute(kill_read)
    halted = cursor.fetchone()
    if halted is not None:
        raise _halted(halted[0])


def _halted(reason: str | None) -> KillSwitchActiveInStore:
    return KillSwitchActiveInStore(
        "kill_switch_active", f"trading is halted by the kill switch: {reason or 'no reason given'}"
    )
