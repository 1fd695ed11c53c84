"""SQLite's write-ahead log is copied into the database by the checkpointer, never by a
commit on the order path (short of the backstop), and the core runs one on SQLite only."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.conftest import make_settings
from tradedeck.services import start_services
from tradedeck.storage.checkpoint import WAL_BACKSTOP_PAGES, WalCheckpointer
from tradedeck.storage.db import make_engine

PAGE = 4096


async def test_commits_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    checkpointer = WalCheckpointer.for_engine(engine)
    assert checkpointer is not None
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE rows (body BLOB)"))
        # 1,500 commits of a page each: past SQLite's default of checkpointing at 1,000.
        for _ in range(1500):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO rows VALUES (zeroblob(:n))"), {"n": PAGE})
        busy, pages, copied = await checkpointer.checkpoint()
        assert 1500 <= pages < WAL_BACKSTOP_PAGES  # no commit checkpointed on the way
        assert (busy, copied) == (0, pages)  # one pass copied all of it
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM rows"))).scalar() == 1500
    finally:
        await checkpointer.stop()
        await engine.dispose()


async def test_the_core_checkpoints_its_sqlite_file_only(tmp_path: Path, database_url: str) -> None:
    services = await start_services(make_settings(tmp_path, database_url), start_feed=False)
    try:
        if database_url.startswith("sqlite"):
            assert services.checkpointer is not None
            busy, pages, copied = await services.checkpointer.checkpoint()
            assert busy == 0 and copied == pages > 0  # the start-up's writes, all copied
        else:
            assert services.checkpointer is None
    finally:
        await services.stop()
    await services.stop()  # again, as a test's restart and its fixture both do: harmless
