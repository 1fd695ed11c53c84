"""SQLite's WAL checkpoints, moved off the order path.

Left to itself, SQLite checkpoints inside the commit that grows the write-ahead log past
1,000 pages: about every 70th order, that order's commit also copies the log into the
database file and syncs it, a few milliseconds that land in one order's latency. So the
app's connection checkpoints only past a far larger backstop (:data:`WAL_BACKSTOP_PAGES`,
set in :func:`tradedeck.storage.db.make_engine`), and this checkpointer does the work on a
connection and a thread of its own, once a second. Its checkpoints are PASSIVE: they never
wait for or block the writer; what one cannot copy yet, the next pass copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from tradedeck.ops.waiting import wait_or_stop

log = structlog.get_logger(__name__)
T = TypeVar("T")

WAL_BACKSTOP_PAGES: Final = 10_000
"""Pages of log (about 40 MB) past which a commit checkpoints after all: the fallback for
processes that run no checkpointer (CLI commands, the watchdog) or when it falls behind."""

CHECKPOINT_SECONDS: Final = 1.0


class WalCheckpointer:
    """Checkpoints one SQLite database file every ``interval`` seconds until stopped."""

    def __init__(self, path: Path, *, interval: float = CHECKPOINT_SECONDS) -> None:
        self._path = path
        self._interval = interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal-checkpoint")
        self._connection: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._stopped = False

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> WalCheckpointer | None:
        """A checkpointer for the engine's database: only a SQLite file has a log to copy."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return cls(Path(url.database))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wal-checkpoint")

    async def stop(self) -> None:
        """End the loop, copy what is left, and close the connection; once (the core's
        stop may be called again, as a test's restart and its fixture both do)."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(sqlite3.Error):
            await self.checkpoint()
        await self._in_thread(self._close)
        self._executor.shutdown(wait=True)

    async def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, pages in the log, pages copied), SQLite's answer."""
        return await self._in_thread(self._checkpoint)

    async def _run(self) -> None:
        while not await wait_or_stop(self._stop, self._interval):
            try:
                await self.checkpoint()
            except sqlite3.Error as error:  # the backstop still bounds the log meanwhile
                log.warning("wal_checkpoint_failed", error=str(error))

    async def _in_thread(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _checkpoint(self) -> tuple[int, int, int]:
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, timeout=0, isolation_level=None, check_same_thread=False
            )
        busy, pages, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(pages), int(copied)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
