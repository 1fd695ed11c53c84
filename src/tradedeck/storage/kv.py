"""Small shared state for the Telegram face: claim-once keys and a TTL key-value store.

Both come in a database flavour (tables ``once_keys`` and ``kv_store``) so that the embedded
SQLite install needs no Redis, and a Redis flavour for deployments that already run one. The
factories at the bottom pick Redis when a URL is configured, the database otherwise.

Expiry in the database is wall-clock time (``time.time`` by default): rows are shared by
every process on the database, and a monotonic clock means nothing outside its own process.
Every operation is a single SQL statement, so atomicity comes from the database itself and
holds across processes, not just across tasks on one event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import ColumnElement, Table, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.security.oneshot import BulkOneShotStore, RedisOneShotStore
from tradedeck.storage.models import kv_store, once_keys
from tradedeck.storage.redis_client import RedisBacked

MAX_KEY_LENGTH = 200
"""Both tables key on VARCHAR(200); PostgreSQL rejects longer keys and SQLite would not."""

DEFAULT_PRUNE_INTERVAL = 60.0

Clock = Callable[[], float]


@runtime_checkable
class KeyValueStore(Protocol):
    """Strings under string keys, optionally expiring; ``pop`` is the atomic primitive."""

    async def get(self, key: str) -> str | None:
        """The live value under ``key``, or None when absent or expired."""
        ...

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Store ``value``, replacing any previous one; ``None`` TTL means no expiry."""
        ...

    async def pop(self, key: str) -> str | None:
        """Get and delete in one step: among concurrent callers exactly one gets the value."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; a no-op when it is absent."""
        ...

    async def close(self) -> None:
        """Release what the store owns."""
        ...


def check_ttl(ttl_seconds: float) -> None:
    """Refuse TTLs that would silently mean "never stored" or "stored forever"."""
    if not ttl_seconds > 0 or not math.isfinite(ttl_seconds):
        raise ValueError(f"ttl_seconds must be a positive finite number, got {ttl_seconds!r}")


def check_key(key: str) -> None:
    """Same limit on every backend, so a key that works on SQLite works on PostgreSQL."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"key must be 1..{MAX_KEY_LENGTH} characters, got {len(key)}")


def ttl_ms(ttl_seconds: float) -> int:
    """Round up to whole milliseconds so an entry never lapses before its TTL."""
    return max(1, math.ceil(ttl_seconds * 1000))


def to_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def dialect_insert(engine: AsyncEngine, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which (unlike the generic one) knows ON CONFLICT."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _decode(value: bytes | str | None) -> str | None:
    # A client built with decode_responses=True hands back str, the default one bytes.
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


class _Pruner:
    """Decides when a database store should sweep expired rows.

    Expired rows are already invisible to every read, so sweeping only bounds table growth;
    once a minute per process is plenty and keeps the sweep off the hot path.
    """

    def __init__(self, clock: Clock, interval: float) -> None:
        self._clock = clock
        self._interval = interval
        self._next = clock() + interval

    def due(self) -> bool:
        """True at most once per interval; claimed before any await, so tasks do not pile up."""
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self._interval
        return True


async def _prune(engine: AsyncEngine, table: Table, now: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(table).where(table.c.expires_at <= now))


# -- claim-once keys -----------------------------------------------------------------------


class DatabaseOneShotStore:
    """:class:`~tradedeck.security.oneshot.OneShotStore` on the ``once_keys`` table.

    A claim is one upsert: insert the key, or on conflict take over the row only if its
    claim has expired, and report success only when a row came back. On PostgreSQL a
    concurrent claimer blocks on the row lock and then re-evaluates the WHERE against the
    winner's fresh expiry, so it loses; SQLite serialises writers, with the same outcome.

    The engine is borrowed: :meth:`close` leaves it to whoever created it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock = time.time,
        prune_interval: float = DEFAULT_PRUNE_INTERVAL,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._pruner = _Pruner(clock, prune_interval)
        # One statement for every claim, with the values bound per row: SQLAlchemy compiles
        # it once and sends a batch of keys as one multi-row INSERT ... RETURNING.
        insert = dialect_insert(engine, once_keys)
        self._upsert = insert.on_conflict_do_update(
            index_elements=[once_keys.c.key],
            set_={"expires_at": insert.excluded.expires_at},
            where=once_keys.c.expires_at <= bindparam("now"),
        ).returning(once_keys.c.key)

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """Claim ``key`` for ``ttl_seconds``; database errors propagate so callers fail closed."""
        return key in await self.claim_many([key], ttl_seconds)

    async def claim_many(self, keys: Sequence[str], ttl_seconds: float) -> set[str]:
        """Claim distinct ``keys`` in one statement; returns the ones claimed by this call."""
        check_ttl(ttl_seconds)
        if not keys:
            return set()
        for key in keys:
            check_key(key)
        if len(set(keys)) != len(keys):
            raise ValueError("claim_many takes distinct keys")
        now = self._clock()
        # Prune first: if that fails, nothing was claimed and a retry of the same keys works.
        if self._pruner.due():
            await _prune(self._engine, once_keys, to_datetime(now))
        rows = [
            {"key": key, "expires_at": to_datetime(now + ttl_seconds), "now": to_datetime(now)}
            for key in keys
        ]
        async with self._engine.begin() as conn:
            claimed = (await conn.execute(self._upsert, rows)).all()
        return {row[0] for row in claimed}

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""


# -- key-value stores ----------------------------------------------------------------------


class MemoryKeyValueStore:
    """In-process store for tests and single-process runs.

    No method awaits, so each is atomic on the event loop, ``pop`` included. Expired
    entries are dropped when read and swept whenever the store has doubled since the last
    sweep, which keeps writes amortised O(1) while bounding dead entries to live ones.

    The clock must be monotonic (the default) so a wall-clock step does not expire or
    resurrect entries; tests inject a fake one to expire entries without sleeping.
    """

    _MIN_SWEEP = 1024

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[str, float | None]] = {}
        self._sweep_at = self._MIN_SWEEP

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> str | None:
        """The live value, dropping the entry if it has expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._expired(entry[1]):
            del self._entries[key]
            return None
        return entry[0]

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Store ``value``; sweeping first keeps memory proportional to live entries."""
        if ttl_seconds is not None:
            check_ttl(ttl_seconds)
        if len(self._entries) >= self._sweep_at:
            self._sweep()
        expires_at = None if ttl_seconds is None else self._clock() + ttl_seconds
        self._entries[key] = (value, expires_at)

    async def pop(self, key: str) -> str | None:
        """Get and delete; no await in between, so no other task can interleave."""
        entry = self._entries.pop(key, None)
        if entry is None or self._expired(entry[1]):
            return None
        return entry[0]

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def close(self) -> None:
        """Forget everything; nothing else is held."""
        self._entries.clear()

    def _expired(self, expires_at: float | None) -> bool:
        return expires_at is not None and expires_at <= self._clock()

    def _sweep(self) -> None:
        self._entries = {k: e for k, e in self._entries.items() if not self._expired(e[1])}
        self._sweep_at = max(self._MIN_SWEEP, 2 * len(self._entries))


class DatabaseKeyValueStore:
    """:class:`KeyValueStore` on the ``kv_store`` table, shared by every process.

    ``pop`` is ``DELETE ... WHERE live RETURNING value``: the row lock (PostgreSQL) or the
    write lock (SQLite) lets one deleter see the row, and later ones find nothing. Keys are
    namespaced by ``prefix`` because the table is shared with other users, such as the
    FSM storage. The engine is borrowed, as in :class:`DatabaseOneShotStore`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        prefix: str = "kv:",
        clock: Clock = time.time,
        prune_interval: float = DEFAULT_PRUNE_INTERVAL,
    ) -> None:
        self._engine = engine
        self._prefix = prefix
        self._clock = clock
        self._pruner = _Pruner(clock, prune_interval)

    async def get(self, key: str) -> str | None:
        stmt = select(kv_store.c.value).where(kv_store.c.key == self._key(key), self._live())
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Upsert ``value``; an expired row under the same key is simply overwritten."""
        expires_at = None
        if ttl_seconds is not None:
            check_ttl(ttl_seconds)
            expires_at = to_datetime(self._clock() + ttl_seconds)
        if self._pruner.due():  # before the write, so a failed prune never hides a stored value
            await _prune(self._engine, kv_store, to_datetime(self._clock()))
        insert = dialect_insert(self._engine, kv_store).values(
            key=self._key(key), value=value, expires_at=expires_at
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[kv_store.c.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at},
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def pop(self, key: str) -> str | None:
        stmt = (
            delete(kv_store)
            .where(kv_store.c.key == self._key(key), self._live())
            .returning(kv_store.c.value)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def delete(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(kv_store).where(kv_store.c.key == self._key(key)))

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""

    def _key(self, key: str) -> str:
        full = self._prefix + key
        check_key(full)
        return full

    def _live(self) -> ColumnElement[bool]:
        now = to_datetime(self._clock())
        return or_(kv_store.c.expires_at.is_(None), kv_store.c.expires_at > now)


class RedisKeyValueStore(RedisBacked):
    """:class:`KeyValueStore` on Redis: expiry is Redis's own and ``pop`` is ``GETDEL``."""

    DEFAULT_PREFIX = "td:kv:"

    async def get(self, key: str) -> str | None:
        return _decode(await self._redis.get(self._prefix + key))

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        px = None
        if ttl_seconds is not None:
            check_ttl(ttl_seconds)
            px = ttl_ms(ttl_seconds)
        await self._redis.set(self._prefix + key, value, px=px)

    async def pop(self, key: str) -> str | None:
        """``GETDEL`` (Redis 6.2+) is one command, so only one caller sees the value."""
        return _decode(await self._redis.getdel(self._prefix + key))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


# -- factories -----------------------------------------------------------------------------


def make_kv_store(engine: AsyncEngine, redis_url: str | None) -> KeyValueStore:
    """Redis when configured (its own client, closed by ``close``), else the database."""
    if redis_url:
        return RedisKeyValueStore.from_url(redis_url)
    return DatabaseKeyValueStore(engine)


def make_oneshot_store(engine: AsyncEngine, redis_url: str | None) -> BulkOneShotStore:
    """Redis when configured (its own client, closed by ``close``), else the database."""
    if redis_url:
        return RedisOneShotStore.from_url(redis_url)
    return DatabaseOneShotStore(engine)
