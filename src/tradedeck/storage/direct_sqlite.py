"""The order path's own SQLite connection, on a thread of its own.

Why. Each database step of a live order (the kill-switch read before it leaves, the write
of its fill after) went through the engine: a pool checkout, a trip to aiosqlite's
worker thread, a return to the pool. Measured inside an order, each cost about 0.6 ms
on top of the statements themselves (0.08 ms for the read, 0.4 ms for the write): the
checkout's greenlet switches, and the wake-up of a thread that had slept since the last
order. Here both steps are handed straight to one thread that holds its own ``sqlite3``
connection, the same thread for the read and the write that follows it, so the second
finds it awake. And a step is handed over the moment it is asked for
(:meth:`DirectSqlite.submit`), so the kill-switch read starts while ccxt is still
building the request, not when the order's task first waits.

What a second connection changes. SQLite has one writer at a time across connections and
processes (the watchdog's too): ``BEGIN IMMEDIATE`` takes the write lock first, and a
connection that finds it taken waits (``busy_timeout``) in SQLite's sleeping retries,
which is why the rest of the app shares one pooled connection (``db.make_engine``). The
order path writes rarely next to it; when both write at the same instant, one waits about
a millisecond. Reads in WAL mode never wait. A transaction here sees every one committed
before it by any connection, so the kill switch another process set is never missed.

Only a database file has one; an in-memory database is private to its connection, and
there the order path goes through the engine (``hop``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.storage.db import sqlite_pragmas
from tradedeck.storage.hop import Work, in_thread

T = TypeVar("T")


class DirectSqlite:
    """Transactions on one SQLite database file, on a connection and thread of their own
    (opened at the first use, closed with the engine, opened again if used after that)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._line: _Line | None = None

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> DirectSqlite | None:
        """One for the engine's database file, closed when the engine is disposed; None
        for anything else (another backend, an in-memory database)."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        direct = cls(url.database)
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: direct.close())
        return direct

    def submit(self, work: Work[T], *, write: bool = True) -> asyncio.Future[T]:
        """Start ``work`` in one transaction now, in the connection's thread; the future
        has its result. A ``write`` takes the write lock first (``BEGIN IMMEDIATE``); any
        error rolls it all back and comes out as SQLAlchemy's, as through the engine."""
        if self._line is None:
            self._line = _Line(self._path)
        return self._line.submit(work, write)

    def close(self) -> None:
        """Close the connection, in its thread, after the work already handed over."""
        line, self._line = self._line, None
        if line is not None:
            line.close()


class _Line:
    """One thread and the connection it opens: what a close ends, all of it at once."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="order-sqlite")
        self._connection: sqlite3.Connection | None = None

    def submit(self, work: Work[T], write: bool) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self._run, work, write)

    def close(self) -> None:
        self._executor.submit(self._close)
        self._executor.shutdown(wait=False)

    def _run(self, work: Work[T], write: bool) -> T:
        try:
            return in_thread(self._open(), work, write)
        except sqlite3.Error as error:
            raise DBAPIError.instance(None, None, error, sqlite3.Error) from None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            # mode=rw: a database that is not there is an error, never a new empty file.
            # Autocommit: transactions are the explicit ones ``in_thread`` begins.
            uri = f"{Path(self._path).resolve().as_uri()}?mode=rw"
            connection = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
            sqlite_pragmas(connection)
            self._connection = connection
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
