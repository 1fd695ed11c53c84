"""aiogram FSM storage in the database, so a half-finished dialogue survives a restart.

Deployments with Redis use aiogram's own ``RedisStorage``; this one keeps the embedded
SQLite install (and PostgreSQL without Redis) on par. One ``kv_store`` row per
:class:`~aiogram.fsm.storage.base.StorageKey` holds ``{"state": ..., "data": {...}}``, and
the row is deleted when both are empty, so finished dialogues leave nothing behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradedeck.storage.kv import MAX_KEY_LENGTH, dialect_insert
from tradedeck.storage.models import kv_store
from tradedeck.storage.redis_client import make_redis

REDIS_FSM_PREFIX = "td:fsm"


@dataclass(frozen=True, slots=True)
class _Record:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.state is None and not self.data

    def dumps(self) -> str:
        return json.dumps({"state": self.state, "data": self.data}, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | None) -> _Record:
        """Unreadable rows read as empty: the user restarts a dialogue instead of being stuck."""
        if raw is None:
            return cls()
        try:
            value = json.loads(raw)
            state, data = value.get("state"), value.get("data") or {}
        except (ValueError, AttributeError):
            return cls()
        if not isinstance(data, dict) or not isinstance(state, str | None):
            return cls()
        return cls(state=state, data=data)


def storage_key(key: StorageKey, prefix: str = "fsm:") -> str:
    """Every field of the StorageKey, so two chats, threads, bots or destinies never share.

    Free-text fields are percent-encoded so a ``:`` inside one cannot forge a boundary; a
    key too long for the column is replaced by its SHA-256 (``h:`` cannot start the plain
    form, which begins with the bot id).
    """
    plain = ":".join(
        (
            str(key.bot_id),
            str(key.chat_id),
            "" if key.thread_id is None else str(key.thread_id),
            str(key.user_id),
            quote(key.business_connection_id or "", safe=""),
            quote(key.destiny, safe=""),
        )
    )
    if len(prefix) + len(plain) <= MAX_KEY_LENGTH:
        return prefix + plain
    return f"{prefix}h:{hashlib.sha256(plain.encode()).hexdigest()}"


class DatabaseFSMStorage(BaseStorage):
    """FSM state and data in the ``kv_store`` table.

    Because state and data share a row, a write is a read-modify-write; it runs in one
    transaction that first makes sure the row exists (``INSERT ... ON CONFLICT DO
    NOTHING``) and then reads it ``FOR UPDATE``. That first write takes SQLite's write lock
    and gives PostgreSQL a row to lock, so a concurrent ``set_state`` and ``set_data`` for
    the same user serialise instead of one silently undoing the other.

    Reads are served from memory once a key was read or written: every update asks for
    its user's state, and without Redis there is one bot process, the only writer, so
    the cache cannot go stale (deployments with replicas use Redis instead).

    The engine is borrowed: :meth:`close` leaves it to whoever created it.
    """

    CACHE_LIMIT = 50_000

    def __init__(self, engine: AsyncEngine, *, prefix: str = "fsm:") -> None:
        self._engine = engine
        self._prefix = prefix
        self._cache: dict[str, _Record] = {}

    def _remember(self, row_key: str, record: _Record) -> None:
        if len(self._cache) >= self.CACHE_LIMIT:
            self._cache.clear()
        self._cache[row_key] = record

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        await self._modify(key, lambda record: replace(record, state=name))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(key)).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replace the data; a non-dict is refused as aiogram's own storages refuse it."""
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        # Serialise before locking the row, so unserialisable data fails without a write.
        copied: dict[str, Any] = json.loads(json.dumps(data))
        await self._modify(key, lambda record: replace(record, data=copied))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._read(key)).data)  # a copy: the cached record stays intact

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""

    async def _read(self, key: StorageKey) -> _Record:
        row_key = self._key(key)
        cached = self._cache.get(row_key)
        if cached is not None:
            return cached
        stmt = select(kv_store.c.value).where(kv_store.c.key == row_key)
        async with self._engine.connect() as conn:
            record = _Record.loads((await conn.execute(stmt)).scalar_one_or_none())
        self._remember(row_key, record)
        return record

    async def _modify(self, key: StorageKey, change: Callable[[_Record], _Record]) -> None:
        row_key = self._key(key)
        async with self._engine.begin() as conn:
            await self._ensure_row(conn, row_key)
            locked = select(kv_store.c.value).where(kv_store.c.key == row_key).with_for_update()
            record = change(_Record.loads((await conn.execute(locked)).scalar_one_or_none()))
            if record.empty:
                await conn.execute(kv_store.delete().where(kv_store.c.key == row_key))
            else:
                await self._write(conn, row_key, record.dumps())
        self._remember(row_key, record)

    async def _ensure_row(self, conn: AsyncConnection, row_key: str) -> None:
        insert = dialect_insert(self._engine, kv_store).values(
            key=row_key, value=_Record().dumps(), expires_at=None
        )
        await conn.execute(insert.on_conflict_do_nothing(index_elements=[kv_store.c.key]))

    async def _write(self, conn: AsyncConnection, row_key: str, value: str) -> None:
        # An upsert, not an UPDATE: a concurrent delete may have removed the row meanwhile.
        insert = dialect_insert(self._engine, kv_store).values(
            key=row_key, value=value, expires_at=None
        )
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=[kv_store.c.key],
                set_={"value": insert.excluded.value, "expires_at": None},
            )
        )

    def _key(self, key: StorageKey) -> str:
        return storage_key(key, self._prefix)


def make_fsm_storage(engine: AsyncEngine, redis_url: str | None) -> BaseStorage:
    """aiogram's RedisStorage when Redis is configured, else the database storage.

    The Redis key builder includes the destiny so scoped FSM contexts do not collide, and
    ``td:fsm`` keeps the keys beside the platform's other Redis keys.
    """
    if redis_url:
        key_builder = DefaultKeyBuilder(with_destiny=True, prefix=REDIS_FSM_PREFIX)
        return RedisStorage(make_redis(redis_url), key_builder=key_builder)
    return DatabaseFSMStorage(engine)
