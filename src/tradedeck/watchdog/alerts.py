"""The watchdog's own line to the admins: its own aiogram Bot and Telegram sender.

The trading process's bot (and, in sandbox mode, the Bot API it hosts) dies with it, so
the watchdog talks to Telegram itself: ``TRADEDECK_WATCHDOG_TELEGRAM_TOKEN`` and
``TRADEDECK_WATCHDOG_TELEGRAM_API_BASE`` when set, else the main bot's token and API base.
The admins are the users with role admin and a Telegram id, plus
``TRADEDECK_TELEGRAM_ADMINS``; they are read at each alert, so a new admin is reached
without restarting the watchdog.

aiogram is imported only when there is a token to use it with: building its few hundred
pydantic models takes seconds, and a watchdog (or ``watchdog --status``) must start fast.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from tradedeck.config import Settings
from tradedeck.domain.roles import Role
from tradedeck.notify.text import escape
from tradedeck.storage.repository import Repository

if TYPE_CHECKING:
    from aiogram import Bot

    from tradedeck.notify.sender import TelegramSender

log = structlog.get_logger(__name__)

DELIVERY_WAIT_SECONDS = 20.0


class AdminAlerts:
    def __init__(self, settings: Settings, repository: Repository) -> None:
        self._settings = settings
        self._repo = repository
        token = settings.watchdog_telegram_token or settings.telegram_token
        self._token = token.get_secret_value() if token is not None else None
        self.api_base = settings.watchdog_telegram_api_base or settings.telegram_api_base
        self._bot: Bot | None = None
        self._sender: TelegramSender | None = None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    async def start(self) -> None:
        if self._token is None:
            log.warning("watchdog_alerts_disabled", reason="no Telegram token configured")
            return
        from aiogram import Bot
        from aiogram.client.default import DefaultBotProperties
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        from tradedeck.notify.sender import TelegramSender

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.api_base))
        self._bot = Bot(
            self._token,
            session=session,
            default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
        )
        self._sender = TelegramSender(self._bot)
        await self._sender.start()

    async def stop(self) -> None:
        if self._sender is not None:
            await self._sender.stop(drain_timeout=5.0)
            self._sender = None
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    async def recipients(self) -> list[int]:
        chats = [
            u.telegram_id
            for u in await self._repo.telegram_users()
            if u.role is Role.ADMIN and u.telegram_id is not None
        ]
        return list(dict.fromkeys([*chats, *self._settings.telegram_admins]))

    async def alert(self, title: str, lines: list[str]) -> int:
        """Send the alert to every admin and wait (bounded) for delivery; returns how many
        admins it went to. ``title`` and ``lines`` are plain text, escaped here."""
        if self._sender is None:
            return 0
        from tradedeck.notify.sender import Priority  # loaded with the sender by start()

        chats = await self.recipients()
        if not chats:
            log.warning("watchdog_alert_nobody", title=title)
            return 0
        text = "\n".join([f"🚨 <b>{escape(title)}</b>", *(escape(line) for line in lines)])
        for chat_id in chats:
            await self._sender.send(chat_id, text, priority=Priority.CRITICAL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sender.join(), DELIVERY_WAIT_SECONDS)
        log.warning("watchdog_alert_sent", title=title, admins=len(chats))
        return len(chats)
