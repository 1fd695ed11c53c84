"""The order path's own PostgreSQL connection: it survives the server cutting it, gives
SQLAlchemy's errors, and goes away with the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import PG_ADMIN_DSN
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.direct_pg import DirectConnection
from tradedeck.storage.repository import KillSwitchActiveInStore, KillSwitchState, Repository

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def _backends(database: str) -> list[int]:
    """The server processes connected to ``database`` (ours, not the admin's)."""
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return [row["pid"] for row in rows]
    finally:
        await admin.close()


async def _cut(database: str, *, settle: bool = True) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
    finally:
        await admin.close()
    if settle:
        await asyncio.sleep(0.2)  # the client sees its socket close


async def test_the_kill_switch_check_reads_again_after_the_server_cut_the_connection(
    engine: AsyncEngine,
) -> None:
    repo = Repository(engine)
    await repo.check_kill_switch_off()
    database = engine.url.database
    assert database is not None
    await _cut(database, settle=False)  # the read may find out only by trying
    await repo.check_kill_switch_off()  # a new connection; the order is not refused
    watchdog = make_engine(str(engine.url.render_as_string(hide_password=False)))
    try:  # the watchdog halts trading from its own process
        await Repository(watchdog).set_kill_switch(
            KillSwitchState(True, "drawdown", "watchdog", NOW)
        )
    finally:
        await watchdog.dispose()
    await _cut(database)
    with pytest.raises(KillSwitchActiveInStore, match="drawdown"):
        await repo.check_kill_switch_off()


async def test_a_write_on_a_lost_connection_fails_and_the_next_one_lands(
    engine: AsyncEngine,
) -> None:
    direct = DirectConnection(engine)
    await direct.fetchrow("SELECT 1 AS one")
    database = engine.url.database
    assert database is not None
    await _cut(database, settle=False)
    insert = "INSERT INTO settings_kv (key, value, updated_at) VALUES ($1, $2, now()) RETURNING key"
    with contextlib.suppress(OperationalError):  # lost: the caller hears it, no resend
        await direct.fetchrow(insert, "a", "1")
    row = await direct.fetchrow(insert, "b", "2")
    assert row == {"key": "b"}


async def test_driver_errors_are_sqlalchemys(engine: AsyncEngine) -> None:
    direct = DirectConnection(engine)
    insert = "INSERT INTO settings_kv (key, value, updated_at) VALUES ($1, $2, now())"
    await direct.fetchrow(insert, "same", "1")
    with pytest.raises(IntegrityError):
        await direct.fetchrow(insert, "same", "2")
    assert await direct.fetchrow("SELECT value FROM settings_kv WHERE key = $1", "same") == {
        "value": "1"
    }


async def test_disposing_the_engine_closes_the_connection(pg_url: str) -> None:
    engine = make_engine(pg_url)
    await upgrade(engine)
    repo = Repository(engine)
    await repo.check_kill_switch_off()
    database = engine.url.database
    assert database is not None
    await engine.dispose()
    await asyncio.sleep(0.2)
    assert await _backends(database) == []


async def test_a_read_that_finds_the_connection_gone_is_sent_once_more(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's goodbye can arrive only as the answer to the next statement."""
    direct = DirectConnection(engine)
    await direct.fetchrow("SELECT 1 AS one")
    real = asyncpg.Connection.fetchrow
    failures = [asyncpg.ConnectionDoesNotExistError("connection was closed")]

    async def cut_once(self: asyncpg.Connection, query: str, *args: object) -> object:
        if failures:
            raise failures.pop()
        return await real(self, query, *args)

    monkeypatch.setattr(asyncpg.Connection, "fetchrow", cut_once)
    assert await direct.fetchrow("SELECT 2 AS two", read_only=True) == {"two": 2}
    failures.append(asyncpg.ConnectionDoesNotExistError("connection was closed"))
    with pytest.raises(OperationalError):  # a write is not sent twice
        await direct.fetchrow("SELECT 3 AS three")
    assert await direct.fetchrow("SELECT 4 AS four") == {"four": 4}
