"""Digests: medium and low priority notifications, one message per chat per window.

A scan can emit dozens of signals at once, and each would cost the chat a ping and a
slot of its one message per second, in front of a fill that matters. So these wait: the
first one for a chat opens a window (5 minutes for medium, 30 for low by default), and
when it closes everything held for that chat leaves as one message. Critical and high
notifications never come here, so a pending digest never delays them.

Each notification handed in gets a future resolved with the digest's delivery outcome,
which is what lets a durable bus acknowledge an event only once its digest arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from tradedeck.notify.sender import Clock, MessageSender, Outcome, Priority, Sleep

log = structlog.get_logger(__name__)

_HEADER = "🗂 <b>{count} notifications</b> from the last {window}"


@dataclass(eq=False, slots=True)
class _Entry:
    text: str
    silent: bool
    outcome: asyncio.Future[Outcome]


@dataclass(eq=False, slots=True)
class _Batch:
    chat_id: int
    priority: Priority
    due: float
    entries: list[_Entry] = field(default_factory=list)


class Batcher:
    """Holds notifications of the batched priorities and sends each chat's as one message.

    ``intervals`` maps each batched priority to its window in seconds; a priority not in
    it is sent at once (``batches`` tells). A digest pings the chat unless every entry
    in it was silent.
    """

    def __init__(
        self,
        sender: MessageSender,
        intervals: Mapping[Priority, float],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if any(seconds <= 0 for seconds in intervals.values()):
            raise ValueError("batch intervals must be positive")
        self._sender = sender
        self._intervals = dict(intervals)
        self._clock = clock
        self._sleep = sleep
        self._batches: dict[tuple[Priority, int], _Batch] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    def batches(self, priority: Priority) -> bool:
        return priority in self._intervals

    @property
    def pending(self) -> int:
        """Notifications held, not yet handed to the sender."""
        return sum(len(batch.entries) for batch in self._batches.values())

    def add(
        self, chat_id: int, text: str, *, silent: bool, priority: Priority
    ) -> asyncio.Future[Outcome]:
        """Hold ``text`` for ``chat_id``'s next digest of ``priority``."""
        interval = self._intervals.get(priority)
        if interval is None:
            raise ValueError(f"priority {priority.name} is not batched")
        key = (priority, chat_id)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = _Batch(chat_id, priority, self._clock() + interval)
            self._wake.set()
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        batch.entries.append(_Entry(text, silent, outcome))
        return outcome

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="notify-batcher")

    async def stop(self) -> None:
        """Send every digest now: whoever stops wants what is held delivered, not lost."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Hand every held digest to the sender now, whatever its window says."""
        await self._send_due(math.inf)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            await self._send_due(now)
            if not self._batches:
                await self._wake.wait()
                continue
            wait = min(batch.due for batch in self._batches.values()) - now
            sleeper = asyncio.ensure_future(self._sleep(max(wait, 0.001)))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def _send_due(self, now: float) -> None:
        due = [key for key, batch in self._batches.items() if batch.due <= now]
        for key in due:
            batch = self._batches.pop(key)
            try:
                await self._send(batch)
            except Exception:
                log.exception("notify_digest_failed", chat_id=batch.chat_id)
                for entry in batch.entries:
                    _resolve(entry.outcome, Outcome.ABANDONED)

    async def _send(self, batch: _Batch) -> None:
        text = digest([e.text for e in batch.entries], self._intervals[batch.priority])
        silent = all(entry.silent for entry in batch.entries)
        result = await self._sender.send(
            batch.chat_id, text, disable_notification=silent, priority=batch.priority
        )
        log.debug(
            "notify_digest_queued",
            chat_id=batch.chat_id,
            priority=batch.priority.name,
            count=len(batch.entries),
        )
        if result is None:  # a sender that cannot tell: take its word that it sent
            for entry in batch.entries:
                _resolve(entry.outcome, Outcome.DELIVERED)
            return
        task = asyncio.create_task(_forward(result, batch.entries))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)


async def _forward(result: asyncio.Future[Outcome], entries: list[_Entry]) -> None:
    outcome = await result
    for entry in entries:
        _resolve(entry.outcome, outcome)


def _resolve(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)


def digest(texts: list[str], window_seconds: float) -> str:
    """One message listing ``texts`` (Telegram HTML each), with a header when several.

    The sender splits it if it is too long, on line boundaries, so an entry is cut only
    when it alone is longer than a message.
    """
    if len(texts) == 1:
        return texts[0]
    header = _HEADER.format(count=len(texts), window=_window(window_seconds))
    return "\n\n".join([header, *texts])


def _window(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds)} s"
