"""The audit trail of the Telegram face: one record per update, written in batches.

Recording must never slow an answer down, so records are queued and a background task
writes them together; stopping flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from tradedeck.storage.repository import Repository

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    actor: str
    channel: str
    action: str
    outcome: str
    detail: str | None = None
    chat_id: int | None = None
    update_id: int | None = None
    latency_ms: float | None = None
    at: datetime | None = None


class AuditTrail:
    def __init__(self, repository: Repository, *, flush_interval: float = 0.5) -> None:
        self._repo = repository
        self._queue: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=100_000)
        self._interval = flush_interval
        self._task: asyncio.Task[None] | None = None

    def record(self, record: AuditRecord) -> None:
        if record.at is None:
            record = dataclasses.replace(record, at=datetime.now(UTC))
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            log.error("audit_queue_full", action=record.action)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-trail")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        batch: list[AuditRecord] = []
        while not self._queue.empty() and len(batch) < 5000:
            batch.append(self._queue.get_nowait())
        if batch:
            await self._repo.audit_many(batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.exception("audit_flush_failed")
