"""The order path's own PostgreSQL connection, spoken to through asyncpg itself.

Why. The order path runs two statements per order on PostgreSQL: the kill-switch read
before the request leaves, and the one statement that stores the outcome (see
``one_statement``). Through SQLAlchemy's asyncio layer each cost about three times its
round trip: a pool checkout and checkin, a greenlet switch per driver call, an
execution context and a result object. Measured on this project's 2-core machine: a
trivial query took 0.47-0.60 ms that way and 0.20 ms on an asyncpg connection of its own;
an asyncpg pool costs nearly as much again, because a released connection is reset
with a round trip of its own. So the order path keeps one connection, opened on first
use and held, and its statements queue for it behind a lock (they are sequential
anyway: the order manager places one batch at a time).

Everything else keeps going through the engine. The connection takes the engine's
connection settings (host, user, password, SSL options), is closed when the engine is
disposed, and is opened again after a failure or in another event loop. The driver's
errors come out as SQLAlchemy's (``IntegrityError`` and the rest), as from any other
statement.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

# Options of SQLAlchemy's asyncpg adapter, not of asyncpg.connect.
_ADAPTER_OPTIONS = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)
# What says the connection itself is gone: it is dropped and the next call opens another.
# (A server that ends a session sends a FATAL error first, AdminShutdownError and the
# like; a connection that closed on any error is as gone.)
_CONNECTION_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)


class DirectConnection:
    """One held asyncpg connection for the order path's statements (autocommit: each
    statement is a transaction of its own)."""

    def __init__(self, engine: AsyncEngine) -> None:
        args, options = engine.dialect.create_connect_args(engine.url)
        for name in _ADAPTER_OPTIONS:
            options.pop(name, None)
        self._args: list[Any] = list(args)
        self._options: dict[str, Any] = dict(options)
        self._conn: asyncpg.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        event.listen(engine.sync_engine, "engine_disposed", self._on_disposed)

    async def fetchrow(
        self, sql: str, *args: Any, read_only: bool = False
    ) -> dict[str, Any] | None:
        """Run ``sql`` with ``args`` (``$1``, ``$2``, ...) and return its first row.

        A ``read_only`` statement is sent once more on a new connection when the held one
        turns out to be gone (the server restarted, an idle connection was cut): reading
        twice changes nothing. A write is not: whether a lost one committed is unknown, so
        the error goes to the caller (on the order path, reconciliation settles it).
        """
        async with self._lock_here():
            for attempt in (1, 2):
                conn = await self._connection()
                try:
                    row = await conn.fetchrow(sql, *args)
                except _CONNECTION_LOST as lost:
                    self.terminate()
                    if read_only and attempt == 1:
                        continue
                    raise sa_exc.OperationalError(
                        sql, None, lost, connection_invalidated=True
                    ) from None
                except asyncpg.PostgresError as error:
                    if conn.is_closed():
                        self.terminate()
                    raise _translated(sql, error) from None
                return None if row is None else dict(row)
        raise AssertionError("unreachable")  # pragma: no cover

    def terminate(self) -> None:
        """Close the connection now (its socket; nothing to wait for)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _lock_here(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._lock is None:
            self.terminate()  # a connection belongs to the loop that opened it
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            try:
                self._conn = await asyncpg.connect(*self._args, **self._options)
            except (*_CONNECTION_LOST, asyncpg.PostgresError) as failed:
                raise sa_exc.OperationalError("connect", None, failed) from None
        return self._conn

    def _on_disposed(self, _engine: Any) -> None:
        self.terminate()


def _translated(sql: str, error: asyncpg.PostgresError) -> sa_exc.DBAPIError:
    """The SQLAlchemy error a statement through the engine would have raised."""
    kind: type[sa_exc.DBAPIError]
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        kind = sa_exc.IntegrityError
    elif isinstance(error, asyncpg.DataError):
        kind = sa_exc.DataError
    elif isinstance(error, asyncpg.InsufficientPrivilegeError):
        kind = sa_exc.ProgrammingError
    else:
        kind = sa_exc.DBAPIError
    return kind(sql, None, error)
