"""One database round trip for a whole transaction on the order path.

Why. Through SQLAlchemy's asyncio layer every statement on SQLite is several trips to
aiosqlite's worker thread and back (cursor, execute, fetch, close), each a wake-up of the
event loop: storing one fill (five statements) cost about seventeen of them, most of the
latency a live order adds. Here the whole transaction is one synchronous function that
runs *in* that worker thread, on the very ``sqlite3`` connection the pool holds, through a
synchronous SQLAlchemy connection: the same tables, types and statements, one trip.

On any other backend (PostgreSQL through asyncpg has no worker thread) the same function
runs through ``AsyncConnection.run_sync``, so there is one body for both; a read runs in
autocommit there, which spares the BEGIN and the ROLLBACK trips and changes nothing a
reader sees (under READ COMMITTED each statement takes its own snapshot anyway).

The SQLite path uses two attributes aiosqlite has kept since its first releases but does
not document (``Connection._execute``, ``Connection._conn``); without them, it falls back
to ``run_sync`` and stays correct, only slower.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

T = TypeVar("T")
Work = Callable[[Connection], T]

# The synchronous engine wrapping each aiosqlite connection, made once per connection in its
# own thread (only that thread ever uses it) and dropped with the connection.
_sync_engines: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()
# Each engine's autocommit view (same pool), for reads.
_autocommit_engines: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = (
    weakref.WeakKeyDictionary()
)


async def transaction(engine: AsyncEngine, work: Work[T], *, write: bool = True) -> T:
    """Run ``work`` in one transaction and return its result; any error rolls it all back.

    A ``write`` transaction on SQLite takes the write lock first (``BEGIN IMMEDIATE``), so
    what ``work`` reads before writing cannot change under it, even from another process.
    """
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            driver = await _aiosqlite(conn)
            if driver is not None:
                result: T = await driver._execute(_in_thread, driver, work, write)
                return result
    if not write:
        async with _autocommit(engine).connect() as conn:
            return await conn.run_sync(work)
    async with engine.begin() as conn:
        return await conn.run_sync(work)


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    found = _autocommit_engines.get(engine)
    if found is None:
        found = _autocommit_engines[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


async def _aiosqlite(conn: AsyncConnection) -> Any | None:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if hasattr(driver, "_execute") and hasattr(driver, "_conn"):
        return driver
    return None


def _in_thread(driver: Any, work: Work[T], write: bool) -> T:
    """Inside aiosqlite's worker thread: the transaction on its own ``sqlite3`` connection."""
    engine = _sync_engines.get(driver)
    if engine is None:
        handle = driver._conn
        engine = create_engine("sqlite://", creator=lambda: handle, poolclass=StaticPool)
        _sync_engines[driver] = engine
    with engine.connect() as conn:
        if write:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return result
