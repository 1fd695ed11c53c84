"""Engine construction and migrations.

Migrations run on start (and with `tradedeck db upgrade`) through Alembic on the app's
own async engine, so a fresh data directory needs no manual step.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from tradedeck.storage.checkpoint import WAL_BACKSTOP_PAGES


def make_engine(url: str) -> AsyncEngine:
    """An async engine tuned for the backend: WAL + foreign keys on SQLite, a pool on PG."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer at a time, and writers on several
        # connections wait on each other with sleeping retries (busy_timeout), which
        # costs far more than queueing for a single connection in the pool. (The order
        # path has a connection of its own, direct_sqlite, and writes seldom beside it.)
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            pool_reset_on_return=None,  # _rollback_if_open does it, only when it is needed
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        event.listen(engine.sync_engine.pool, "reset", _rollback_if_open)
        return engine
    # pre_ping: after a server restart a pooled connection is found dead at checkout, not
    # by failing the statement of whoever drew it (the order path has its own, direct_pg).
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_recycle=1800, pool_pre_ping=True
    )


def sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    """Every connection to the SQLite file, the pool's and the order path's own."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Commits checkpoint only past a backstop: the app's WalCheckpointer does it off the
    # order path (see tradedeck.storage.checkpoint).
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
    cursor.close()


def _rollback_if_open(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's reset when a connection comes back, minus a wasted trip: the default
    rolls back every time, and on aiosqlite each rollback is a round trip to its thread,
    paid even after a read that began nothing or a transaction already committed."""
    if state.terminate_only or not state.asyncio_safe:
        return
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    location = resources.files("tradedeck.storage") / "migrations"
    cfg.set_main_option("script_location", str(location))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""

    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)
