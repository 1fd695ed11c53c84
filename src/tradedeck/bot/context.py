"""What every handler may use, handed over by the dispatcher as `deps`.

Identity lookups are cached for a few seconds: a busy chat costs one database query per
user, not one per message, and a role change or revocation applies within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiogram.types import User as TgUser

from tradedeck.config import Settings
from tradedeck.domain.roles import Actor
from tradedeck.notify.notifier import Notifier
from tradedeck.notify.text import escape
from tradedeck.security.audit import AuditRecord, AuditTrail
from tradedeck.security.confirmations import ConfirmationService
from tradedeck.security.ratelimit import RateLimiter
from tradedeck.services import Services

IDENTITY_TTL = 5.0
UNKNOWN_REPORT_INTERVAL = 600.0


@dataclass
class BotDeps:
    services: Services
    settings: Settings
    confirmations: ConfirmationService
    limiter: RateLimiter
    audit: AuditTrail
    notifier: Notifier | None = None
    _identities: dict[int, tuple[Actor | None, float]] = field(default_factory=dict)
    _reported: dict[int, float] = field(default_factory=dict)

    async def identify(self, telegram_id: int) -> Actor | None:
        now = time.monotonic()
        cached = self._identities.get(telegram_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        user = await self.services.repository.user_by_telegram_id(telegram_id)
        actor = (
            Actor(name=user.name, role=user.role, channel="telegram", user_id=user.id)
            if user is not None
            else None
        )
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[telegram_id] = (actor, now + IDENTITY_TTL)
        return actor

    def forget_identities(self) -> None:
        self._identities.clear()

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
