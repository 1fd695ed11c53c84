"""Turns bus events into Telegram messages for the people they concern.

Services publish facts (an order filled, the kill switch tripped) without knowing who
listens; this is the one place deciding who hears about what, how loudly, and in what
words, so the bot's /settings screen and the messages can never disagree.

Priorities decide *when*: critical (kill switch, risk) and high (fills, orders) go to
the sender at once; medium (scanner signals) and low (informational) wait in per-chat
digests (notify/batching.py). For a durable bus, ``handle`` returns a completion that
ends once every message of the event got Telegram's 200, and a ledger of (event, chat)
deliveries lets a redelivered event skip the chats it already reached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from tradedeck.domain.money import fmt, from_float
from tradedeck.domain.roles import Role
from tradedeck.notify.batching import Batcher
from tradedeck.notify.events import Completion, Event, EventBus, EventType
from tradedeck.notify.ledger import DeliveryLedger
from tradedeck.notify.sender import MessageSender, Outcome, Priority
from tradedeck.notify.text import escape
from tradedeck.storage.repository import Repository, User

log = structlog.get_logger(__name__)

EVENT_GROUPS: dict[str, str] = {
    "fills": "Fills",
    "orders": "Orders placed, canceled, expired",
    "rejections": "Rejected orders",
    "kill_switch": "Kill switch",
    "risk": "Risk alerts",
    "scan": "Scanner signals",
    "alerts": "Price alerts",
}
"""Notification groups a user can tune, with the label the /settings screen shows."""

LEVELS = ("on", "silent", "off")
"""Per group: notify, deliver without a sound, or skip."""

DEFAULT_LEVEL = "on"

DEFAULT_LEVEL_BY_ROLE: dict[str, dict[Role, str]] = {
    # Scanner signals are on for those who can act on them (admins, traders) and off for
    # viewers, for whom an unasked-for stream of ideas is noise; anyone may switch.
    "scan": {Role.VIEWER: "off"},
}
"""Where a group's default differs by role; everything else defaults to DEFAULT_LEVEL."""

BROADCAST_GROUPS = frozenset({"scan"})
"""Groups about the market rather than a user's own orders: every user may receive them."""

OWNER_ONLY_GROUPS = frozenset({"alerts"})
"""Groups only the user an event concerns hears about (not the admins): a price alert is
one person's reminder, not the platform's news."""

GROUP_BY_EVENT: dict[EventType, str] = {
    EventType.ORDER_FILLED: "fills",
    EventType.ORDER_PARTIALLY_FILLED: "fills",
    EventType.ORDER_PLACED: "orders",
    EventType.ORDER_CANCELED: "orders",
    EventType.ORDER_EXPIRED: "orders",
    EventType.ORDER_REJECTED: "rejections",
    EventType.KILL_SWITCH_ACTIVATED: "kill_switch",
    EventType.KILL_SWITCH_RESUMED: "kill_switch",
    EventType.RISK_BREACH: "risk",
    EventType.SCAN_SIGNAL: "scan",
    EventType.PRICE_ALERT: "alerts",
}
"""Which group an event belongs to; events not listed are not sent to Telegram."""

# Order events share one priority on purpose: the sender orders a chat's messages by
# priority first, and "filled" must never overtake the "placed" of the same order.
_PRIORITY_BY_GROUP: dict[str, Priority] = {
    "fills": Priority.HIGH,
    "orders": Priority.HIGH,
    "rejections": Priority.HIGH,
    "kill_switch": Priority.CRITICAL,
    "risk": Priority.CRITICAL,
    "scan": Priority.MEDIUM,
    "alerts": Priority.HIGH,
}

ADMIN_EVENTS: dict[EventType, Priority] = {
    EventType.SYSTEM_ALERT: Priority.CRITICAL,
    EventType.SYSTEM_INFO: Priority.LOW,
}
"""Events for the admins alone (the admin channel when there is one), whatever their
levels: like security reports, the platform's health is not a preference."""

DIRECT_EVENTS: dict[EventType, Priority] = {
    EventType.REPORT: Priority.HIGH,
    EventType.MONITOR_HEARTBEAT: Priority.HIGH,
}
"""Events addressed to one chat (``data["chat_id"]``) or to the one user who asked for
them (``user_id``); no level applies, and their text (``data["text"]``, Telegram HTML
escaped by the code that composed it) is sent as it is. Sent at once: a report or a
heartbeat held in a digest would arrive late, which is what they exist to tell."""

SECURITY_GROUPS = frozenset({"kill_switch"})
"""Groups whose events also go to the admin channel, when one is configured."""

_ID_CHARS = 8


class Undelivered(Exception):
    """An event's messages did not all get through; a durable bus keeps it for replay."""


class Notifier:
    """Subscribes to the bus and queues one message per interested Telegram user.

    Users and their levels are cached for ``cache_ttl`` seconds, so a burst of fills costs
    one query rather than one per event and recipient; call :meth:`invalidate` after a
    settings change to make it count at once. When the database cannot be read (it may be
    the very reason the kill switch tripped) the last known users and levels are used.
    """

    def __init__(
        self,
        bus: EventBus,
        sender: MessageSender,
        repository: Repository,
        *,
        cache_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        batch_intervals: Mapping[Priority, float] | None = None,
        ledger: DeliveryLedger | None = None,
        admin_chat: int | None = None,
        max_age: float | None = None,
    ) -> None:
        self._bus = bus
        self._sender = sender
        self._batcher = Batcher(sender, batch_intervals or {})
        self._ledger = ledger
        self._admin_chat = admin_chat
        self._max_age = max_age
        self._settling: set[asyncio.Task[None]] = set()
        self._repo = repository
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._subscribed = False
        self._stopped = False
        self._users: list[User] = []
        self._users_at = -float("inf")
        self._levels: dict[int, tuple[float, dict[str, str]]] = {}

    async def start(self) -> None:
        """Subscribe to the bus (once, however often it is called) and start the sender."""
        self._stopped = False
        if not self._subscribed:
            self._bus.subscribe(self.handle)
            self._subscribed = True
        await self._sender.start()
        await self._batcher.start()

    async def stop(self) -> None:
        """Ignore further events, send the digests held and drain the sender: the notifier
        is its main producer, so whoever stops notifications wants what is queued out."""
        self._stopped = True
        await self._batcher.stop()
        await self._sender.stop()
        if self._settling:
            await asyncio.gather(*list(self._settling), return_exceptions=True)

    async def join(self) -> None:
        """Wait until every notification queued so far was sent or given up (tests, and a
        shutdown that wants the last alerts out before the process ends); digests still
        inside their window are not waited for (see :meth:`flush`)."""
        await self._sender.join()
        if self._settling:
            await asyncio.gather(*list(self._settling), return_exceptions=True)

    async def flush(self) -> None:
        """Send every digest now, ahead of its window."""
        await self._batcher.flush()

    @property
    def batched(self) -> int:
        """Notifications waiting in digests."""
        return self._batcher.pending

    def invalidate(self, user_id: int | None = None) -> None:
        """Forget cached levels (of one user, or all and the user list)."""
        if user_id is None:
            self._levels.clear()
            self._users_at = -float("inf")
        else:
            self._levels.pop(user_id, None)

    async def handle(self, event: Event) -> Completion | None:
        """Bus listener: queue the event's message for each recipient at their level.

        It only enqueues, so a slow Telegram never holds up the bus's other listeners,
        and returns a completion (``None`` when nothing was queued) that ends once every
        message got through and raises :class:`Undelivered` if one was abandoned. A
        chat the ledger says already received this event is skipped.
        """
        if self._stopped:
            # A durable bus must keep the event for whoever runs next, not acknowledge it.
            return _refuse(event) if event.id else None
        if event.id and self._too_old(event):
            return None
        group = GROUP_BY_EVENT.get(event.type)
        if event.type in ADMIN_EVENTS:
            priority = ADMIN_EVENTS[event.type]
            targets = [(chat, False) for chat in await self._admin_chats()]
        elif event.type in DIRECT_EVENTS:
            priority = DIRECT_EVENTS[event.type]
            targets = [(chat, False) for chat in await self._direct_chats(event)]
        elif group is not None:
            priority = _PRIORITY_BY_GROUP[group]
            targets = await self._targets(event, group)
        else:
            return None
        text = render(event)
        queued: list[tuple[int, asyncio.Future[Outcome] | None]] = []
        for chat_id, silent in targets:
            if event.id and self._ledger and await self._ledger.delivered(event.id, chat_id):
                continue
            queued.append((chat_id, await self._queue(chat_id, text, silent, priority)))
        log.debug("notification_queued", event_type=event.type.value, chats=len(queued))
        if not queued:
            return None
        task = asyncio.create_task(self._settle(event, queued))
        self._settling.add(task)
        task.add_done_callback(self._settled)
        return task

    def _settled(self, task: asyncio.Task[None]) -> None:
        # The sender logged each failure; with nobody awaiting (the in-process bus) the
        # outcome is read here so asyncio does not report it as never retrieved.
        self._settling.discard(task)
        if not task.cancelled():
            task.exception()

    def _too_old(self, event: Event) -> bool:
        """A replayed event older than ``max_age`` (the ledger's memory) is dropped: past
        it, a repeat could no longer be recognised, and the news is stale anyway."""
        if self._max_age is None:
            return False
        age = (datetime.now(UTC) - event.at).total_seconds()
        if age <= self._max_age:
            return False
        log.warning("notification_expired", event_type=event.type.value, age=round(age))
        return True

    async def _targets(self, event: Event, group: str) -> list[tuple[int, bool]]:
        """(chat id, silent) for each chat that hears about ``event``."""
        users = await self._telegram_users(must_include=event.user_id)
        chosen = everyone(users) if group in BROADCAST_GROUPS else recipients(users, event.user_id)
        if group in OWNER_ONLY_GROUPS:
            chosen = [u for u in chosen if u.id == event.user_id]
        targets: list[tuple[int, bool]] = []
        for user in chosen:
            level = await self._level(user, group)
            if group == "kill_switch" and user.role is Role.ADMIN and level == "off":
                level = "silent"  # an admin may mute the kill switch, never miss it
            if level == "off":
                continue
            assert user.telegram_id is not None
            targets.append((user.telegram_id, level == "silent"))
        channel = self._admin_chat
        if group in SECURITY_GROUPS and channel is not None and channel not in dict(targets):
            targets.append((channel, False))
        return targets

    async def _queue(
        self, chat_id: int, text: str, silent: bool, priority: Priority
    ) -> asyncio.Future[Outcome] | None:
        if self._batcher.batches(priority):
            return self._batcher.add(chat_id, text, silent=silent, priority=priority)
        return await self._sender.send(
            chat_id, text, disable_notification=silent, priority=priority
        )

    async def _settle(
        self, event: Event, queued: Sequence[tuple[int, asyncio.Future[Outcome] | None]]
    ) -> None:
        """Wait for each message's outcome and record deliveries as they happen: the
        sooner a delivery is on record, the smaller the window for a repeat."""

        async def one(chat_id: int, outcome: asyncio.Future[Outcome] | None) -> Outcome:
            result = Outcome.DELIVERED if outcome is None else await outcome
            if result is Outcome.DELIVERED and event.id and self._ledger is not None:
                await self._ledger.mark(event.id, chat_id)
            return result

        results = await asyncio.gather(*(one(chat, outcome) for chat, outcome in queued))
        abandoned = [
            chat
            for (chat, _), result in zip(queued, results, strict=True)
            if result is Outcome.ABANDONED
        ]
        if abandoned:
            raise Undelivered(f"{event.type.value}: not delivered to {len(abandoned)} chat(s)")

    async def notify_admins(self, text: str, priority: Priority = Priority.HIGH) -> None:
        """Send ``text`` (Telegram HTML, already escaped by the caller) to the admin channel
        when one is configured, else to every admin's private chat, whatever their levels:
        security reports (unknown users, rate-limit breaches) are not a preference."""
        for chat_id in await self._admin_chats():
            await self._queue(chat_id, text, False, priority)

    async def _direct_chats(self, event: Event) -> list[int]:
        chat = event.data.get("chat_id")
        if isinstance(chat, int):
            return [chat]
        users = await self._telegram_users(must_include=event.user_id)
        return [u.telegram_id for u in users if u.id == event.user_id and u.telegram_id][:1]

    async def _admin_chats(self) -> list[int]:
        if self._admin_chat is not None:
            return [self._admin_chat]
        chats: list[int] = []
        for user in await self._telegram_users():
            chat = user.telegram_id
            if user.role is Role.ADMIN and chat is not None and chat not in chats:
                chats.append(chat)
        return chats

    async def _telegram_users(self, must_include: int | None = None) -> list[User]:
        """Active users on Telegram, cached; a user the cache does not know yet (one who
        just linked Telegram) forces a fresh read, so nobody misses their first fill."""
        now = self._clock()
        fresh = now - self._users_at < self._cache_ttl
        if fresh and (must_include is None or any(u.id == must_include for u in self._users)):
            return self._users
        try:
            self._users = await self._repo.telegram_users()
        except Exception:
            log.exception("notifier_users_unavailable", cached=len(self._users))
            return self._users
        self._users_at = now
        return self._users

    async def _level(self, user: User, group: str) -> str:
        now = self._clock()
        cached = self._levels.get(user.id)
        if cached is not None and now - cached[0] < self._cache_ttl:
            levels = cached[1]
        else:
            try:
                levels = await self._repo.notification_levels(user.id)
            except Exception:
                log.exception("notifier_levels_unavailable", user_id=user.id)
                levels = cached[1] if cached is not None else {}
            else:
                self._levels[user.id] = (now, levels)
        default = default_level(group, user.role)
        level = levels.get(group, default)
        return level if level in LEVELS else default


async def _refuse(event: Event) -> None:
    raise Undelivered(f"{event.type.value}: the notifier is stopped")


def default_level(group: str, role: Role) -> str:
    return DEFAULT_LEVEL_BY_ROLE.get(group, {}).get(role, DEFAULT_LEVEL)


def effective_levels(role: Role, levels: Mapping[str, str]) -> dict[str, str]:
    """Every group's level for a user: what they chose, else their role's default."""
    return {group: levels.get(group, default_level(group, role)) for group in EVENT_GROUPS}


def everyone(users: Sequence[User]) -> list[User]:
    """Every user on Telegram, each chat once (for market-wide groups)."""
    chosen: list[User] = []
    seen: set[int] = set()
    for user in users:
        if user.telegram_id is not None and user.telegram_id not in seen:
            seen.add(user.telegram_id)
            chosen.append(user)
    return chosen


def recipients(users: Sequence[User], user_id: int | None) -> list[User]:
    """The user an event concerns plus every admin, each once, only those on Telegram."""
    chosen: list[User] = []
    seen: set[int] = set()
    for user in users:
        if user.telegram_id is None or user.telegram_id in seen:
            continue
        if user.role is Role.ADMIN or (user_id is not None and user.id == user_id):
            seen.add(user.telegram_id)
            chosen.append(user)
    return chosen


# -- message texts -------------------------------------------------------------------------
def render(event: Event) -> str:
    """The message for ``event``: short Telegram HTML with every dynamic value escaped."""
    data = event.data
    match event.type:
        case EventType.ORDER_FILLED | EventType.ORDER_PARTIALLY_FILLED:
            return _fill(event.type, data)
        case EventType.ORDER_PLACED:
            return _order_line("📝", "Order placed", data)
        case EventType.ORDER_CANCELED:
            return _order_line("⚪", "Order canceled", data)
        case EventType.ORDER_EXPIRED:
            return _order_line("⌛", "Order expired", data)
        case EventType.ORDER_REJECTED:
            return _order_line("⛔", "Order rejected", data)
        case EventType.KILL_SWITCH_ACTIVATED:
            canceled = _int(data.get("canceled_orders"))
            noun = "open order" if canceled == 1 else "open orders"
            return (
                f"🛑 <b>Kill switch activated</b> by {escape(data.get('actor', 'unknown'))}: "
                f"{escape(data.get('reason') or 'no reason given')}\n"
                f"{canceled} {noun} canceled"
                + (
                    f"\n⚠️ Canceling failed: {escape(data['cancel_error'])}"
                    if data.get("cancel_error")
                    else ""
                )
            )
        case EventType.KILL_SWITCH_RESUMED:
            return f"✅ <b>Trading resumed</b> by {escape(data.get('actor', 'unknown'))}"
        case EventType.SCAN_SIGNAL:
            return _scan_signal(data)
        case EventType.REPORT | EventType.MONITOR_HEARTBEAT:
            return str(data.get("text") or escape(event.type.value))
        case EventType.PRICE_ALERT:
            condition = " ".join(escape(data.get(k, "?")) for k in ("symbol", "op", "level"))
            return (
                f"🔔 <b>Price alert</b> {condition}\n"
                f"Price {escape(data.get('price', '?'))} · {event.at:%Y-%m-%d %H:%M} UTC"
                + (f" · alert #{escape(data['alert_id'])}" if data.get("alert_id") else "")
            )
        case EventType.RISK_BREACH:
            reason = data.get("detail") or data.get("reason") or data.get("message")
            text = "⚠️ <b>Risk limit breached</b>"
            if data.get("symbol"):
                text += f" on {escape(data['symbol'])}"
            return text + (f"\n{escape(reason)}" if reason else "")
        case EventType.SYSTEM_ALERT | EventType.SYSTEM_INFO:
            return _system(event.type, data)
        case _:
            return f"ℹ️ {escape(event.type.value)}"


def _system(event_type: EventType, data: Mapping[str, Any]) -> str:
    alert = event_type is EventType.SYSTEM_ALERT
    title = data.get("title") or ("System alert" if alert else "System")
    line = f"{'🚨' if alert else 'ℹ️'} <b>{escape(title)}</b>"
    if data.get("component"):
        line += f" · {escape(data['component'])}"
    message = data.get("message") or data.get("detail")
    return line + (f"\n{escape(message)}" if message else "")


def _scan_signal(data: Mapping[str, Any]) -> str:
    signal = str(data.get("signal", ""))
    icon, title = ("🟢", "Buy signal") if signal == "buy" else ("🔴", "Sell signal")
    line = f"{icon} <b>{title}</b> {escape(data.get('symbol', '?'))}"
    if data.get("timeframe"):
        line += f" {escape(data['timeframe'])}"
    score = _float(data.get("score"))
    if score is not None:
        line += f" · score {score:+.2f}"
    if data.get("strategy"):
        line += f" ({escape(data['strategy'])})"
    details = []
    last = _float(data.get("last_close"))
    if last is not None:
        details.append(f"last {escape(fmt(from_float(last)))}")
    rsi = _float(data.get("rsi"))
    if rsi is not None:
        details.append(f"RSI {rsi:.0f}")
    return line + ("\n" + " · ".join(details) if details else "")


def _float(value: object) -> float | None:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _fill(event_type: EventType, data: Mapping[str, Any]) -> str:
    side = str(data.get("side", ""))
    icon = "🔴" if side == "sell" else "🟢"
    symbol = str(data.get("symbol", "?"))
    if event_type is EventType.ORDER_PARTIALLY_FILLED:
        title = "Partially filled"
        amount = f"{escape(data.get('filled', '?'))}/{escape(data.get('amount', '?'))}"
    else:
        title = "Filled"
        amount = escape(data.get("filled") or data.get("amount", "?"))
    fills = [f for f in data.get("fills") or [] if isinstance(f, Mapping)]
    price = data.get("average_price") or (fills[-1].get("price") if fills else None)
    line = f"{icon} <b>{title}</b> {escape(side)} {amount} {escape(symbol)}"
    if price:
        line += f" @ {escape(price)}"
    line += _role_suffix(data)
    details: list[str] = []
    fee = _fee(fills, data)
    if fee is not None:
        currency = data.get("fee_currency") or _quote(symbol)
        details.append(f"Fee {escape(fee)}" + (f" {escape(currency)}" if currency else ""))
    if data.get("order_id"):
        details.append(f"order <code>{escape(str(data['order_id'])[:_ID_CHARS])}</code>")
    return line + ("\n" + " · ".join(details) if details else "")


def _order_line(icon: str, title: str, data: Mapping[str, Any]) -> str:
    kind = str(data.get("type", "")).replace("_", " ")
    words = " ".join(
        escape(w) for w in (kind, data.get("side"), data.get("amount"), data.get("symbol")) if w
    )
    line = f"{icon} <b>{title}</b> {words}".rstrip()
    if data.get("price"):
        line += f" @ {escape(data['price'])}"
    filled = data.get("filled")
    if filled and _decimal(filled) not in (None, Decimal(0)) and title != "Order placed":
        line += f" (filled {escape(filled)})"
    line += _role_suffix(data)
    if data.get("order_id"):
        line += f" · order <code>{escape(str(data['order_id'])[:_ID_CHARS])}</code>"
    # A rejection from the risk checks carries a sentence in "detail" and a code in
    # "reason"; an order the exchange refused has only the sentence, in "reason".
    reason = data.get("detail") or data.get("reason")
    if reason:
        line += f"\n{escape(reason)}"
    return line


def _role_suffix(data: Mapping[str, Any]) -> str:
    role = data.get("role")
    if not role or role == "entry":
        return ""
    return f" · {escape(str(role).replace('_', ' '))}"


def _fee(fills: Sequence[Mapping[str, Any]], data: Mapping[str, Any]) -> str | None:
    """The order's fee, rounded to 8 places as the bot's own replies show it (the exact
    figure is in the fill's record)."""
    if data.get("fee") is not None:
        total = _decimal(data["fee"])
        if total is None:
            return str(data["fee"])
    else:
        fees = [f for f in (_decimal(fill.get("fee")) for fill in fills) if f is not None]
        if not fees:
            return None
        total = sum(fees, Decimal(0))
    return fmt(round(total, 8)) or "0"


def _quote(symbol: str) -> str | None:
    """The quote currency of ``BASE/QUOTE`` (or ``BASE/QUOTE:SETTLE``), where fees land."""
    if "/" not in symbol:
        return None
    return symbol.split("/", 1)[1].split(":", 1)[0] or None


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _int(value: object) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0
