"""The event bus: services announce what happened without knowing who listens.

The interface is small on purpose (publish, subscribe) so that a Redis Streams backend
with consumer groups (notify/redis_bus.py) replaces the in-process one without touching
a service.

A listener may return a *completion* (an awaitable) from its handler: the handler call
itself only queues work, in event order, and the completion finishes when that work is
done (the notifier: every message delivered). A durable bus acknowledges an event only
after every completion finished; the in-process bus, which cannot replay anything, does
not wait for them.
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
    PRICE_ALERT = "price.alert"
    """A user's price alert crossed its level (once); only its owner hears."""
    REPORT = "report"
    """A periodic report (hourly balance, daily PnL) for the one user who asked for it."""
    MONITOR_HEARTBEAT = "monitor.heartbeat"
    """"Still alive", every minute, to the monitoring chat when one is configured."""
    SYSTEM_ALERT = "system.alert"
    """Something is down or about to be (watchdog, health): the admins hear at once."""
    SYSTEM_INFO = "system.info"
    """Informational news for the admins (a restart, a job finished): sent in digests."""


class Event(BaseModel):
    type: EventType
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    user_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    """Set by a durable bus (the stream entry id), the same on every redelivery; listeners
    use it to recognise an event they already handled. Never part of the payload."""


Completion = Awaitable[None]
Handler = Callable[[Event], Awaitable[Completion | None]]
"""A listener: queues its work for ``event`` and may return a completion to wait on."""


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
        self._detached: set[asyncio.Future[None]] = set()
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
                        completion = await handler(event)
                    except Exception:
                        log.exception("event_handler_failed", event_type=event.type.value)
                    else:
                        self._detach(completion)
            finally:
                self._queue.task_done()

    def _detach(self, completion: Completion | None) -> None:
        """Nothing here can replay an event, so nobody waits for a completion; a bare
        coroutine is still run (and referenced until it ends) rather than dropped."""
        if asyncio.iscoroutine(completion):
            task = asyncio.ensure_future(completion)
            self._detached.add(task)
            task.add_done_callback(self._detached.discard)
