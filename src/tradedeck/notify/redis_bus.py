"""The production event bus: Redis Streams with a consumer group, at least once.

Publishing is one XADD (the stream trimmed to about ``maxlen`` entries). Listeners read
through a consumer group, and an event is acknowledged (XACK) only after every listener's
completion finished: for the notifier, after Telegram answered 200 to each message the
event produced, or the user's settings dropped it. Anything else stays in the group's
pending list and comes back:

- on start, this consumer re-reads its own pending entries (XREADGROUP from id 0), so a
  restart under the same consumer name resumes where the crash left off;
- every few seconds, XAUTOCLAIM takes entries another (dead) consumer left idle longer
  than ``claim_idle``. Entries still being worked on here are re-claimed (XCLAIM JUSTID)
  often enough that they never look idle, even while a 30-minute digest holds them.

Events published while no listener runs wait in the stream; the group starts at the
stream's beginning, so even those published before the group existed are read. The
reader starts only once a listener is subscribed: a process without a notifier (an API
replica) must not consume and acknowledge what the bot replica has to deliver.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import deque
from typing import Any

import structlog
from pydantic import ValidationError

from tradedeck.notify.events import Completion, Event, Handler

log = structlog.get_logger(__name__)

DEFAULT_STREAM = "tradedeck:events"
DEFAULT_GROUP = "notifier"
_FIELD = b"event"
_RETRY_PAUSE = 1.0
_BACKLOG = 10_000


def default_consumer() -> str:
    """Stable across restarts of one host's process, so its own pending list is resumed."""
    return socket.gethostname() or f"pid-{os.getpid()}"


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class RedisStreamsBus:
    """An :class:`~tradedeck.notify.events.EventBus` over a Redis stream.

    ``client`` is a ``redis.asyncio.Redis``; it is closed by :meth:`stop` only when the
    bus created it (:meth:`from_url`). ``handled`` counts events acknowledged after their
    listeners finished, ``failed`` counts handlings left pending for a retry, ``dropped``
    counts events lost because Redis stayed unreachable while the local backlog was full.
    """

    def __init__(
        self,
        client: Any,
        *,
        stream: str = DEFAULT_STREAM,
        group: str = DEFAULT_GROUP,
        consumer: str | None = None,
        maxlen: int = 100_000,
        block: float = 1.0,
        count: int = 100,
        claim_idle: float = 60.0,
        max_in_flight: int = 10_000,
        owns_client: bool = False,
    ) -> None:
        if maxlen < 1 or count < 1 or max_in_flight < 1:
            raise ValueError("maxlen, count and max_in_flight must be positive")
        if block <= 0 or claim_idle <= 0:
            raise ValueError("block and claim_idle must be positive")
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer()
        self._maxlen = maxlen
        self._block_ms = max(1, int(block * 1000))
        self._count = count
        self._claim_idle_ms = max(1, int(claim_idle * 1000))
        self._claim_every = claim_idle / 3
        self._owns_client = owns_client
        self._handlers: list[Handler] = []
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_in_flight)
        self._started = False
        self._reader: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._group_ready = False
        self._published: str | None = None
        self._dispatched: str | None = None
        self._progress = asyncio.Event()
        # Events Redis refused (unreachable): kept in order and retried, so a publisher
        # in the trading path never fails on a notification.
        self._backlog: deque[str] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.handled = 0
        self.failed = 0
        self.dropped = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStreamsBus:
        import redis.asyncio as aioredis

        return cls(aioredis.Redis.from_url(url), owns_client=True, **options)

    # -- EventBus --------------------------------------------------------------------
    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)
        if self._started:
            self._start_reader()

    async def publish(self, event: Event) -> None:
        """XADD the event. Never raises: with Redis unreachable the event waits in a
        bounded local backlog, retried in order, rather than failing an order's path."""
        payload = event.model_dump_json(exclude={"id"})
        if self._backlog:
            self._hold(payload)
            return
        try:
            await self._add(payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event_publish_deferred", event_type=event.type.value)
            self._hold(payload)

    async def _add(self, payload: str) -> None:
        entry_id = await self.client.xadd(
            self.stream, {_FIELD: payload}, maxlen=self._maxlen, approximate=True
        )
        self._published = _text(entry_id)

    def _hold(self, payload: str) -> None:
        if len(self._backlog) >= _BACKLOG:
            self._backlog.popleft()
            self.dropped += 1
            log.error("event_dropped", reason="redis unreachable and backlog full")
        self._backlog.append(payload)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_backlog(), name="event-bus-backlog")

    async def _flush_backlog(self) -> None:
        while self._backlog:
            try:
                await self._add(self._backlog[0])
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(_RETRY_PAUSE)
                continue
            self._backlog.popleft()

    async def start(self) -> None:
        if self._started:
            return
        await self._ensure_group()
        self._started = True
        if self._handlers:
            self._start_reader()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop reading, give running handlings ``drain_timeout`` seconds, then leave the
        rest pending: they are redelivered, never lost."""
        self._started = False
        if self._flusher is not None and self._backlog:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._flusher), drain_timeout)
        if self._backlog:
            log.error("events_lost_on_stop", count=len(self._backlog))
            self.dropped += len(self._backlog)
            self._backlog.clear()
        for task in (self._flusher, self._reader, self._keeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._flusher = self._reader = self._keeper = None
        running = list(self._inflight.values())
        if running:
            _, late = await asyncio.wait(running, timeout=drain_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._owns_client:
            await self.client.aclose()

    async def join(self) -> None:
        """Wait until every event this process published was handed to the listeners and
        their completions finished (tests; needs a subscribed listener)."""
        target = self._published
        while target is not None and (
            self._dispatched is None or _id_key(self._dispatched) < _id_key(target)
        ):
            self._progress.clear()
            await self._progress.wait()
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    @property
    def in_flight(self) -> int:
        """Events handed to listeners and not yet acknowledged or failed."""
        return len(self._inflight)

    # -- reading ---------------------------------------------------------------------
    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        import redis.exceptions

        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    def _start_reader(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="event-bus-redis")
            self._keeper = asyncio.create_task(self._keep(), name="event-bus-redis-claims")

    async def _read(self) -> None:
        await self._resume_own()
        while True:
            try:
                reply = await self.client.xreadgroup(
                    self.group,
                    self.consumer,
                    {self.stream: ">"},
                    count=self._count,
                    block=self._block_ms,
                )
                for _, entries in reply or []:
                    await self._dispatch_all(entries)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event_bus_read_failed", stream=self.stream)
                self._group_ready = False
                await asyncio.sleep(_RETRY_PAUSE)
                with contextlib.suppress(Exception):
                    await self._ensure_group()

    async def _resume_own(self) -> None:
        """Re-read this consumer's pending entries (left by a crash) before new ones."""
        start = "0"
        while True:
            try:
                reply = await self.client.xreadgroup(
                    self.group, self.consumer, {self.stream: start}, count=self._count
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event_bus_resume_failed", stream=self.stream)
                await asyncio.sleep(_RETRY_PAUSE)
                continue
            entries = [entry for _, batch in reply or [] for entry in batch]
            if not entries:
                return
            await self._dispatch_all(entries)
            start = _text(entries[-1][0])

    async def _keep(self) -> None:
        """Claim what dead consumers left, and keep our own in-flight entries fresh."""
        while True:
            await asyncio.sleep(self._claim_every)
            try:
                mine = list(self._inflight)
                if mine:
                    await self.client.xclaim(
                        self.stream, self.group, self.consumer, 0, mine, justid=True
                    )
                await self._claim_idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event_bus_claim_failed", stream=self.stream)

    async def _claim_idle(self) -> None:
        start = "0-0"
        while True:
            reply = await self.client.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                self._claim_idle_ms,
                start_id=start,
                count=self._count,
            )
            start, entries = _text(reply[0]), reply[1]
            for deleted in reply[2] if len(reply) > 2 else []:
                log.warning("event_bus_entry_trimmed", entry_id=_text(deleted))
            if entries:
                log.info("event_bus_reclaimed", count=len(entries), stream=self.stream)
                await self._dispatch_all(entries)
            if start == "0-0":
                return

    async def _dispatch_all(self, entries: list[Any]) -> None:
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            if entry_id not in self._inflight:
                await self._dispatch(entry_id, fields)
            if self._dispatched is None or _id_key(entry_id) > _id_key(self._dispatched):
                self._dispatched = entry_id
            self._progress.set()

    async def _dispatch(self, entry_id: str, fields: dict[bytes, bytes] | None) -> None:
        """Hand one entry to every listener, in stream order; settle it in the background."""
        payload = (fields or {}).get(_FIELD)
        try:
            if payload is None:
                raise ValueError("entry has no event (trimmed or foreign)")
            event = Event.model_validate_json(payload).model_copy(update={"id": entry_id})
        except (ValidationError, ValueError):
            # Unreadable now means unreadable forever: acknowledge rather than loop on it.
            log.exception("event_bus_bad_entry", entry_id=entry_id)
            await self.client.xack(self.stream, self.group, entry_id)
            return
        await self._slots.acquire()
        completions: list[Completion] = []
        failed = False
        for handler in self._handlers:
            try:
                completion = await handler(event)
            except Exception:
                failed = True
                log.exception("event_handler_failed", event_type=event.type.value)
            else:
                if completion is not None:
                    completions.append(completion)
        task = asyncio.create_task(self._settle(entry_id, event, completions, failed))
        self._inflight[entry_id] = task
        task.add_done_callback(lambda _: self._done(entry_id))

    def _done(self, entry_id: str) -> None:
        self._inflight.pop(entry_id, None)
        self._slots.release()
        self._progress.set()

    async def _settle(
        self, entry_id: str, event: Event, completions: list[Completion], failed: bool
    ) -> None:
        results = await asyncio.gather(*completions, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if failed or errors:
            self.failed += 1
            log.warning(
                "event_left_pending",
                entry_id=entry_id,
                event_type=event.type.value,
                reason=str(errors[0]) if errors else "a listener failed",
            )
            return
        try:
            await self.client.xack(self.stream, self.group, entry_id)
        except Exception:
            # Delivered but not acknowledged: it comes back, and the ledger skips its chats.
            log.exception("event_ack_failed", entry_id=entry_id)
            return
        self.handled += 1


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
