"""One database round trip for a whole transaction on the order path.

Why. Through SQLAlchemy's asyncio layer every statement on SQLite is several trips to
aiosqlite's worker thread and back (cursor, execute, fetch, close), each a wake-up of the
event loop: storing one fill (five statements) cost about seventeen of them, most of the
latency a live order adds. Here the whole transaction is one synchronous function that
runs *in* that worker thread, on the very ``sqlite3`` connection the pool holds: one trip.
The function gets the DB-API connection itself and runs statements compiled once (see
``compiled``), because even a synchronous SQLAlchemy connection cost more per statement
than the statement did.

On any other backend (PostgreSQL through asyncpg has no worker thread) the same function
runs through ``AsyncConnection.run_sync`` on the DB-API connection SQLAlchemy adapts, so
there is one body for both; a read runs in autocommit there, which spares the BEGIN and
the ROLLBACK trips and changes nothing a reader sees (under READ COMMITTED each statement
takes its own snapshot anyway).

The SQLite path uses two attributes aiosqlite has kept since its first releases but does
not document (``Connection._execute``, ``Connection._conn``); without them, it falls back
to ``run_sync`` and stays correct, only slower.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
Work = Callable[[Any], T]
"""A transaction's body: it gets a DB-API connection (``cursor()`` is all it may use)."""

# Each engine's autocommit view (same pool), for reads.
_autocommit_engines: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = (
    weakref.WeakKeyDictionary()
)


async def transaction(engine: AsyncEngine, work: Work[T], *, write: bool = True) -> T:
    """Run ``work`` in one transaction and return its result; any error rolls it all back.

    A ``write`` transaction on SQLite takes the write lock first (``BEGIN IMMEDIATE``), so
    what ``work`` reads before writing cannot change under it, even from another process.
    The driver's errors come out as SQLAlchemy's (``IntegrityError`` and the rest), as
    from any other statement.
    """
    driver_error = engine.dialect.loaded_dbapi.Error
    try:
        return await _run(engine, work, write)
    except driver_error as error:
        raise DBAPIError.instance(None, None, error, driver_error) from None


async def _run(engine: AsyncEngine, work: Work[T], write: bool) -> T:
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        async with engine.connect() as conn:
            driver = await _aiosqlite(conn)
            if driver is not None:
                result: T = await driver._execute(in_thread, driver._conn, work, write)
                return result
    if not write:
        async with autocommit(engine).connect() as conn:
            return await conn.run_sync(_adapted, work, False)
    async with engine.begin() as conn:
        return await conn.run_sync(_adapted, work, sqlite)


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` in autocommit (the same pool): every statement its own transaction."""
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


def in_thread(handle: Any, work: Work[T], write: bool) -> T:
    """Inside the thread that owns ``handle`` (aiosqlite's worker, or the order path's
    own in ``direct_sqlite``): the transaction on that ``sqlite3`` connection."""
    if write:
        handle.execute("BEGIN IMMEDIATE")
    try:
        result = work(handle)
    except BaseException:
        handle.rollback()
        raise
    handle.commit()  # after a read that began nothing, this does nothing
    return result


def _adapted(conn: Connection, work: Work[T], lock_first: bool) -> T:
    """Through ``run_sync``: ``work`` on the DB-API connection SQLAlchemy adapts; the
    surrounding ``engine.begin()`` commits or rolls back (autocommit: nothing to end)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None, "a checked-out connection has its DB-API connection"
    if lock_first:
        dbapi.cursor().execute("BEGIN IMMEDIATE")
    return work(dbapi)
