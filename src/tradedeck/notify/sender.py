"""The one outbound queue for bot messages, paced to Telegram's limits.

Telegram answers a burst with 429 (flood control) and, past a point, silently throttles a
bot; a fill notice lost that way is worse than one that arrives a second late. So every
message goes through here: it is scheduled, never dropped for being too fast, and a slow
or throttled chat never holds up the others.

Design: one queue per chat (ordered by priority, then arrival) and a single scheduler
task that hands the best ready chat to a short-lived delivery task. Waiting (per-chat
spacing, group and global windows, ``retry_after``, backoff) is bookkeeping in the
scheduler, never a sleeping request, so one stuck chat costs nothing but its own slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Protocol

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup

from tradedeck.notify.text import AS_DOCUMENT_THRESHOLD, escape, split_html, to_plain_text

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

DOCUMENT_NAME = "message.txt"
_BACKOFF_START = 0.5
_BACKOFF_MAX = 30.0
_GROUP_WINDOW = 60.0
_GLOBAL_WINDOW = 1.0
# Float time never lands exactly on a window edge; a floor keeps the scheduler from
# spinning on waits too small to move the clock.
_MIN_NAP = 0.001
_PRUNE_ABOVE = 1024
_CAPTION_CHARS = 200

# Failures worth another try: the request may never have reached Telegram, or Telegram
# itself stumbled. Anything else (bad request, blocked by the user, bad token) would fail
# the same way again.
_TRANSIENT = (TelegramNetworkError, TelegramServerError, ClientDecodeError, TimeoutError)


class Priority(IntEnum):
    """Lower goes first, both across chats and within one chat's queue."""

    CRITICAL = 0
    HIGH = 1
    MEDIUM = 2
    LOW = 3


class Outcome(StrEnum):
    """How a queued message ended, as the future returned by ``send`` reports it."""

    DELIVERED = "delivered"
    """Telegram answered 200 to every part (or to the document)."""
    REJECTED = "rejected"
    """Telegram refused it for good (bad request, blocked by the user): retrying is futile."""
    ABANDONED = "abandoned"
    """Given up without a verdict (attempts exhausted, sender stopped): worth another try
    by whoever can replay it, such as a durable event bus."""


class MessageSender(Protocol):
    """What the notifier needs from :class:`TelegramSender` (tests pass simpler fakes).

    ``send`` may return the outcome future; a sender returning ``None`` is taken at its
    word that the message went out.
    """

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        disable_notification: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
        priority: Priority = Priority.HIGH,
    ) -> asyncio.Future[Outcome] | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def join(self) -> None: ...


@dataclass(eq=False, slots=True)
class _Item:
    seq: int
    priority: Priority
    parts: list[str]
    document: bytes | None
    caption: str | None
    disable_notification: bool
    reply_markup: InlineKeyboardMarkup | None
    outcome: asyncio.Future[Outcome]
    next_part: int = 0
    failures: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.priority, self.seq)


@dataclass(eq=False, slots=True)
class _Chat:
    chat_id: int
    queue: list[tuple[int, int, _Item]] = field(default_factory=list)
    # The item being delivered (possibly part-way through its parts, or waiting on a
    # retry): it stays at the front so a newcomer never lands between two parts.
    current: _Item | None = None
    not_before: float = -math.inf
    flood_until: float = -math.inf
    window: deque[float] = field(default_factory=deque)
    in_flight: bool = False

    @property
    def is_group(self) -> bool:
        return self.chat_id < 0

    def head(self) -> _Item | None:
        if self.current is not None:
            return self.current
        return self.queue[0][2] if self.queue else None

    def take(self) -> _Item:
        if self.current is None:
            self.current = heapq.heappop(self.queue)[2]
        return self.current


class TelegramSender:
    """Queue and pace outbound messages so none is lost to Telegram's flood control.

    Counters: ``sent`` counts messages delivered in full (every part), ``dropped`` counts
    messages given up (permanent error, attempts exhausted, refused after ``stop``, or
    still queued when ``stop`` timed out), ``retried`` counts requests scheduled again.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        per_chat_interval: float = 1.0,
        group_per_minute: int = 20,
        global_per_second: int = 30,
        max_attempts: int = 8,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_chat_interval < 0 or group_per_minute < 1 or global_per_second < 1:
            raise ValueError("intervals must be non-negative and rates positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._bot = bot
        self._per_chat_interval = per_chat_interval
        self._group_per_minute = group_per_minute
        self._global_per_second = global_per_second
        self._max_attempts = max_attempts
        self._clock = clock
        self._sleep = sleep
        # Never more requests in the air than may be sent in a second: a Telegram outage
        # then holds a bounded number of connections, not one per queued message.
        self._max_in_flight = global_per_second
        self._token = str(getattr(bot, "token", "") or "")

        self._chats: dict[int, _Chat] = {}
        self._backlog: set[int] = set()  # chats with something to send and nothing in flight
        self._aliases: dict[int, int] = {}  # groups that became supergroups
        self._global_window: deque[float] = deque()
        self._global_pause_until = -math.inf
        self._seq = itertools.count()
        self._deliveries: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._outstanding = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

        self.sent = 0
        self.dropped = 0
        self.retried = 0

    # -- public API ------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Messages accepted and not yet sent or given up."""
        return self._outstanding

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        disable_notification: bool = False,
        reply_markup: InlineKeyboardMarkup | None = None,
        priority: Priority = Priority.HIGH,
    ) -> asyncio.Future[Outcome]:
        """Queue ``text`` (Telegram HTML) for ``chat_id`` and return at once.

        A handler must never wait on Telegram's pacing, so this only enqueues; delivery
        failures are logged and counted, not raised. Too long for one message, the text
        is split, or attached as a plain-text file when splitting would flood the chat.
        An empty text is a caller bug and raises ``ValueError``.

        The returned future resolves to the message's :class:`Outcome` once it is settled;
        callers that must know (the notifier acknowledging a durable event) await it, the
        others ignore it. It never raises, and it is never cancelled by the sender.
        """
        visible = to_plain_text(text)
        if not visible.strip():
            raise ValueError("refusing to send a message with no visible text")
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self._closed:
            self.dropped += 1
            log.warning("telegram_send_refused", chat_id=chat_id, reason="sender stopped")
            outcome.set_result(Outcome.ABANDONED)
            return outcome
        document: bytes | None = None
        caption: str | None = None
        parts = split_html(text)
        if len(parts) > AS_DOCUMENT_THRESHOLD:
            parts = []
            document = visible.encode("utf-8")
            first_line = next(line for line in visible.splitlines() if line.strip())
            caption = escape(first_line.strip()[:_CAPTION_CHARS])
        item = _Item(
            seq=next(self._seq),
            priority=Priority(priority),
            parts=parts,
            document=document,
            caption=caption,
            disable_notification=disable_notification,
            reply_markup=reply_markup,
            outcome=outcome,
        )
        chat = self._chat(self._aliases.get(chat_id, chat_id))
        heapq.heappush(chat.queue, (item.priority, item.seq, item))
        self._outstanding += 1
        self._idle.clear()
        self._requeue(chat)
        log.debug(
            "telegram_send_queued",
            chat_id=chat.chat_id,
            priority=item.priority.name,
            length=len(text),
            parts=len(parts) or 1,
            document=document is not None,
        )
        self._wake.set()
        return outcome

    async def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._task = asyncio.create_task(self._run(), name="telegram-sender")

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Refuse new messages, give the queue ``drain_timeout`` seconds to drain, then give up
        on what is left (counted as dropped) so shutdown never hangs on Telegram."""
        self._closed = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self.join(), drain_timeout)
            except TimeoutError:
                log.warning("telegram_sender_stop_timeout", pending=self._outstanding)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deliveries = list(self._deliveries)
        for task in deliveries:
            task.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)
        if self._outstanding:
            log.error("telegram_messages_abandoned", count=self._outstanding)
            self.dropped += self._outstanding
        for chat in self._chats.values():
            items = [entry[2] for entry in chat.queue]
            if chat.current is not None:
                items.append(chat.current)
            for item in items:
                _resolve(item, Outcome.ABANDONED)
        self._outstanding = 0
        self._chats.clear()
        self._backlog.clear()
        self._idle.set()

    async def join(self) -> None:
        """Wait until every message queued so far was sent or given up (needs ``start``)."""
        await self._idle.wait()

    # -- scheduling ------------------------------------------------------------------
    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if len(self._chats) >= _PRUNE_ABOVE:
                self._prune(self._clock())
            chat = self._chats[chat_id] = _Chat(chat_id)
        return chat

    def _prune(self, now: float) -> None:
        """Forget chats whose limits no longer constrain anything; their state would
        otherwise grow with every chat the bot ever wrote to."""
        for chat_id, chat in list(self._chats.items()):
            if (
                chat.head() is None
                and not chat.in_flight
                and chat.not_before <= now
                and chat.flood_until <= now
                and (not chat.window or chat.window[-1] <= now - _GROUP_WINDOW)
            ):
                del self._chats[chat_id]

    def _requeue(self, chat: _Chat) -> None:
        if chat.head() is not None and not chat.in_flight:
            self._backlog.add(chat.chat_id)
        else:
            self._backlog.discard(chat.chat_id)

    def _chat_due(self, chat: _Chat, now: float) -> float:
        due = chat.not_before
        if chat.is_group:
            window = chat.window
            while window and window[0] <= now - _GROUP_WINDOW:
                window.popleft()
            if len(window) >= self._group_per_minute:
                due = max(due, window[-self._group_per_minute] + _GROUP_WINDOW)
        return due

    def _global_due(self, now: float) -> float:
        """When the next request may start under the overall limit.

        Telegram counts requests as they arrive, which is some time after they leave
        here; counting each one from its answer instead (and a request in the air as
        taking a slot until then) errs on the safe side of any latency, so a burst that
        left together can never meet the next second's burst inside Telegram's window.
        """
        window = self._global_window
        while window and window[0] <= now - _GLOBAL_WINDOW:
            window.popleft()
        due = self._global_pause_until
        busy = len(window) + len(self._deliveries)
        if busy >= self._global_per_second:
            # The slot that frees first: the oldest answer still in the window. With every
            # slot in the air, none frees before an answer, which wakes the scheduler.
            index = busy - self._global_per_second
            due = max(due, window[index] + _GLOBAL_WINDOW if index < len(window) else math.inf)
        return due

    def _dispatch(self, now: float) -> float | None:
        """Start every delivery allowed at ``now``; return how long until another may be
        (``None``: nothing can change until a message arrives or a request ends)."""
        while self._backlog:
            if len(self._deliveries) >= self._max_in_flight:
                return None
            global_due = self._global_due(now)
            if global_due == math.inf:
                return None
            if global_due > now:
                return global_due - now
            best: _Chat | None = None
            best_key: tuple[int, int] | None = None
            next_due = math.inf
            for chat_id in self._backlog:
                chat = self._chats[chat_id]
                due = self._chat_due(chat, now)
                if due > now:
                    next_due = min(next_due, due)
                    continue
                head = chat.head()
                assert head is not None
                if best_key is None or head.key < best_key:
                    best, best_key = chat, head.key
            if best is None:
                return next_due - now
            self._start_delivery(best, now)
        return None

    def _start_delivery(self, chat: _Chat, now: float) -> None:
        item = chat.take()
        chat.in_flight = True
        self._backlog.discard(chat.chat_id)
        task = asyncio.create_task(self._deliver(chat, item))
        self._deliveries.add(task)
        task.add_done_callback(self._delivery_done)

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        # The slot frees only now, after ``_settle`` woke the scheduler: wake it again or
        # a scheduler that saw every slot taken would wait for a wake that never comes.
        self._deliveries.discard(task)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            # Cleared before looking, so a message or a finished request that arrives
            # while we decide still wakes the next wait.
            self._wake.clear()
            try:
                wait = self._dispatch(self._clock())
            except Exception:
                # A bug here must not silence every notification until a restart.
                log.exception("telegram_sender_scheduler_error")
                wait = 1.0
            if wait is None:
                await self._wake.wait()
            else:
                await self._nap(max(wait, _MIN_NAP))

    async def _nap(self, seconds: float) -> None:
        """Sleep until ``seconds`` pass or something changes, whichever comes first."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    # -- delivery --------------------------------------------------------------------
    async def _deliver(self, chat: _Chat, item: _Item) -> None:
        error: BaseException | None = None
        try:
            await self._request(chat.chat_id, item)
        except Exception as exc:
            error = exc
        self._settle(chat, item, error)

    async def _request(self, chat_id: int, item: _Item) -> None:
        if item.document is not None:
            await self._bot.send_document(
                chat_id=chat_id,
                document=BufferedInputFile(item.document, filename=DOCUMENT_NAME),
                caption=item.caption,
                parse_mode="HTML",
                disable_notification=item.disable_notification,
                reply_markup=item.reply_markup,
            )
            return
        index = item.next_part
        last = index == len(item.parts) - 1
        await self._bot.send_message(
            chat_id=chat_id,
            text=item.parts[index],
            parse_mode="HTML",
            # One ping per message: the continuation parts arrive silently.
            disable_notification=item.disable_notification or index > 0,
            reply_markup=item.reply_markup if last else None,
        )

    def _settle(self, chat: _Chat, item: _Item, error: BaseException | None) -> None:
        # Spacing counts from the answer, not the request: by then Telegram has seen the
        # message, so the next one cannot reach it sooner than the interval.
        now = self._clock()
        chat.in_flight = False
        self._global_window.append(now)
        chat.not_before = now + self._per_chat_interval
        if chat.is_group:
            chat.window.append(now)
        if error is None:
            item.failures = 0
            item.next_part += 1
            if item.document is not None or item.next_part >= len(item.parts):
                self._finish(chat, item, delivered=True)
        elif isinstance(error, TelegramRetryAfter):
            self._flood(chat, now, error.retry_after)
        elif isinstance(error, TelegramMigrateToChat):
            self._migrate(chat, error.migrate_to_chat_id)
        elif isinstance(error, _TRANSIENT):
            item.failures += 1
            if item.failures >= self._max_attempts:
                log.error(
                    "telegram_send_gave_up",
                    chat_id=chat.chat_id,
                    attempts=item.failures,
                    error=type(error).__name__,
                    detail=self._describe(error),
                )
                self._finish(chat, item, delivered=False, outcome=Outcome.ABANDONED)
            else:
                delay = min(_BACKOFF_START * 2 ** (item.failures - 1), _BACKOFF_MAX)
                chat.not_before = max(chat.not_before, now + delay)
                self.retried += 1
                log.warning(
                    "telegram_send_retry",
                    chat_id=chat.chat_id,
                    attempt=item.failures,
                    delay=delay,
                    error=type(error).__name__,
                    detail=self._describe(error),
                )
        else:
            log.error(
                "telegram_send_failed",
                chat_id=chat.chat_id,
                error=type(error).__name__,
                detail=self._describe(error),
                retried=False,
            )
            # Telegram's own refusal is final; anything else (a closed session, a bug)
            # says nothing about the message, so a durable caller may try it again.
            verdict = Outcome.REJECTED if isinstance(error, TelegramAPIError) else Outcome.ABANDONED
            self._finish(chat, item, delivered=False, outcome=verdict)
        self._requeue(chat)
        self._wake.set()

    def _flood(self, chat: _Chat, now: float, retry_after: float) -> None:
        """Honour a 429: that chat waits ``retry_after``; the whole bot waits too when a
        second chat is throttled at the same time, as that means the global limit hit."""
        until = now + retry_after
        globally = any(
            other.flood_until > now for other in self._chats.values() if other is not chat
        )
        chat.flood_until = until
        chat.not_before = max(chat.not_before, until)
        if globally:
            self._global_pause_until = max(self._global_pause_until, until)
        self.retried += 1
        log.warning(
            "telegram_flood_control",
            chat_id=chat.chat_id,
            retry_after=retry_after,
            scope="global" if globally else "chat",
        )

    def _migrate(self, chat: _Chat, new_id: int) -> None:
        """A group became a supergroup: move its queue (and future sends) to the new id."""
        log.warning("telegram_chat_migrated", chat_id=chat.chat_id, new_chat_id=new_id)
        self._aliases[chat.chat_id] = new_id
        target = self._chat(new_id)
        if chat.current is not None:
            if target.current is None and not target.in_flight:
                target.current = chat.current
            else:
                item = chat.current
                heapq.heappush(target.queue, (item.priority, item.seq, item))
            chat.current = None
        for entry in chat.queue:
            heapq.heappush(target.queue, entry)
        chat.queue.clear()
        self._requeue(target)

    def _finish(
        self, chat: _Chat, item: _Item, *, delivered: bool, outcome: Outcome = Outcome.REJECTED
    ) -> None:
        if chat.current is item:
            chat.current = None
        if delivered:
            self.sent += 1
            _resolve(item, Outcome.DELIVERED)
        else:
            self.dropped += 1
            _resolve(item, outcome)
        self._outstanding -= 1
        if self._outstanding <= 0:
            self._outstanding = 0
            self._idle.set()

    def _describe(self, error: BaseException) -> str:
        """The error's message, short and with the bot token masked: aiohttp errors can
        quote the request URL, which carries the token."""
        detail = error.message if isinstance(error, TelegramAPIError) else str(error)
        if self._token:
            detail = detail.replace(self._token, "***")
        return detail[:300]


def _resolve(item: _Item, outcome: Outcome) -> None:
    # Whoever awaited may have been cancelled (and its future with it): that is theirs.
    if not item.outcome.done():
        item.outcome.set_result(outcome)
