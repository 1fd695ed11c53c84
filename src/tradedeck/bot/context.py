"""What every handler may use, handed over by the dispatcher as `deps`.

Identities come from an in-memory copy of the (small) table of Telegram users, reloaded
every few seconds and at once when an unknown id writes (at most once a second, so a
stranger's spam cannot turn into database load): no update costs a query, and a role
change or revocation applies within seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiogram.types import User as TgUser

from tradedeck.config import Settings
from tradedeck.domain.roles import Actor
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.text import escape
from tradedeck.security.audit import AuditRecord, AuditTrail
from tradedeck.security.confirmations import ConfirmationService
from tradedeck.security.ratelimit import RateLimiter
from tradedeck.services import Services

log = structlog.get_logger(__name__)

IDENTITY_TTL = 5.0
MISS_RELOAD_INTERVAL = 1.0
UNKNOWN_REPORT_INTERVAL = 600.0


@dataclass
class BotDeps:
    services: Services
    settings: Settings
    confirmations: ConfirmationService
    limiter: RateLimiter
    audit: AuditTrail
    notifier: Notifier | None = None
    _actors: dict[int, Actor] = field(default_factory=dict)
    _loaded_at: float = -1e9
    _miss_reload_at: float = -1e9
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _reported: dict[int, float] = field(default_factory=dict)
    _limited: dict[str, float] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Finish a reply after the handler returned (a backtest's result, say), so the
        update's slot and the user's event lock are not held while a long job runs."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("bot_background_failed", task=task.get_name(), exc_info=task.exception())

    async def cancel_background(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def identify(self, telegram_id: int) -> Actor | None:
        now = time.monotonic()
        if now - self._loaded_at > IDENTITY_TTL:
            await self._reload(now)
        actor = self._actors.get(telegram_id)
        if actor is None and now - self._miss_reload_at > MISS_RELOAD_INTERVAL:
            self._miss_reload_at = now
            await self._reload(now)
            actor = self._actors.get(telegram_id)
        return actor

    async def _reload(self, asked_at: float) -> None:
        async with self._reload_lock:
            if self._loaded_at >= asked_at:
                return  # another update reloaded while this one waited
            users = await self.services.repository.telegram_users()
            self._actors = {
                u.telegram_id: Actor(name=u.name, role=u.role, channel="telegram", user_id=u.id)
                for u in users
                if u.telegram_id is not None
            }
            self._loaded_at = time.monotonic()

    async def report_rate_limited(self, actor: Actor, limit: str) -> None:
        """A user over a rate limit is told by the guard; the admins hear of it once per
        user per ten minutes (a runaway script, a stolen phone, or a misunderstanding)."""
        now = time.monotonic()
        if self._limited.get(actor.name, 0.0) > now:
            return
        self._limited[actor.name] = now + UNKNOWN_REPORT_INTERVAL
        if self.notifier is not None:
            await self.notifier.notify_admins(
                f"⏳ <b>Rate limit</b>: {escape(actor.name)} ({escape(actor.role.value)}) "
                f"went over {escape(limit)}"
            )

    async def report_unknown(self, user: TgUser, what: str, chat_id: int | None) -> None:
        """Audit every attempt; tell the admins at most once per user per ten minutes."""
        self.audit.record(
            AuditRecord(
                actor=f"unknown:{user.id}",
                channel="telegram",
                action=what[:64],
                outcome="denied",
                chat_id=chat_id,
            )
        )
        now = time.monotonic()
        if self._reported.get(user.id, 0.0) > now:
            return
        self._reported[user.id] = now + UNKNOWN_REPORT_INTERVAL
        if self.notifier is not None:
            name = f"@{user.username}" if user.username else user.full_name
            await self.notifier.notify_admins(
                f"⚠️ <b>Unknown Telegram user</b> {escape(name)} (id <code>{user.id}</code>) "
                f"tried: {escape(what[:100])}"
            )
