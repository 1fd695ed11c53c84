"""The event bus: services announce what happened without knowing who listens.

The interface is small on purpose (publish, subscribe) so that a Redis Streams backend
with consumer groups can replace the in-process one without touching a service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog
from pydantic import BaseModel, Field

log = structlog.get_logger(__name__)


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_FILLED = "order.filled"
    ORDER_PARTIALLY_FILLED = "order.partially_filled"
    ORDER_CANCELED = "order.canceled"
    ORDER_REJECTED = "order.rejected"
    ORDER_EXPIRED = "order.expired"
    KILL_SWITCH_ACTIVATED = "kill_switch.activated"
    KILL_SWITCH_RESUMED = "kill_switch.resumed"
    RISK_BREACH = "risk.breach"
    SIGNAL_RECEIVED = "signal.received"
    SCAN_SIGNAL = "scan.signal"


class Event(BaseModel):
    type: EventType
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    user_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self, handler: Handler) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InProcessBus:
    """Embedded default: a bounded queue drained by one task, so publishers never wait
    on slow listeners, and a failing listener is logged without hurting the others."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self._handlers: list[Handler] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def publish(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("event_dropped", event_type=event.type.value, reason="queue full")

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="event-bus")

    async def stop(self) -> None:
        if self._task is None:
            return
        await self.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def join(self) -> None:
        """Wait until every published event was handed to every listener."""
        await self._queue.join()

    async def _drain(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                for handler in self._handlers:
                    try:
                        await handler(event)
                    except Exception:
                        log.exception("event_handler_failed", event_type=event.type.value)
            finally:
                self._queue.task_done()
