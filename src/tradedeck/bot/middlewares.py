"""Middlewares: who is this (outer), may they (inner), and the audit line for each update.

The outer middleware runs for messages AND button presses: an unknown user is dropped
without a word (an answer would confirm the bot exists), audited and reported. The inner
guard reads each handler's flags (`command`, `role`, `private`) so that permissions are
declared next to the handler they protect.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from tradedeck.bot.commands import BY_NAME, ROLE_RANK
from tradedeck.bot.context import BotDeps
from tradedeck.domain.roles import Actor, Role
from tradedeck.security.audit import AuditRecord

log = structlog.get_logger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def describe(event: TelegramObject) -> str:
    if isinstance(event, Message):
        text = event.text or event.caption or ""
        return text.split(maxsplit=1)[0][:64] if text.startswith("/") else "message"
    if isinstance(event, CallbackQuery):
        return f"button:{(event.data or '').split(':', 1)[0]}"
    return type(event).__name__


def chat_of(event: TelegramObject) -> tuple[int | None, str | None]:
    if isinstance(event, Message):
        return event.chat.id, event.chat.type
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat.id, event.message.chat.type
    return None, None


async def tell(event: TelegramObject, text: str) -> None:
    """A short answer where the user acted: a reply to a message, a toast on a button.

    Best effort: a button press too old to answer must not turn a refusal into an error.
    """
    with contextlib.suppress(TelegramBadRequest):
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)


class AuthMiddleware(BaseMiddleware):
    def __init__(self, deps: BotDeps) -> None:
        self.deps = deps

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = getattr(event, "from_user", None)
        if user is None or user.is_bot:
            return None
        actor = await self.deps.identify(user.id)
        if actor is None:
            chat_id, _ = chat_of(event)
            await self.deps.report_unknown(user, describe(event), chat_id)
            if isinstance(event, CallbackQuery):
                # Nothing executes; the spinner just stops, with no text to learn from.
                await event.answer()
            return None
        data["actor"] = actor
        return await handler(event, data)


class AuditMiddleware(BaseMiddleware):
    """Inner, first: one audit record per handled update with its outcome and latency."""

    def __init__(self, deps: BotDeps) -> None:
        self.deps = deps

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await handler(event, data)
            outcome = str(data.get("outcome", "ok"))
            return result
        except Exception:
            outcome = "error"
            log.exception("bot_handler_failed", action=describe(event))
            await tell(event, "⚠️ Something went wrong; it was logged for the admins.")
            return None
        finally:
            actor: Actor | None = data.get("actor")
            update: Update | None = data.get("event_update")
            chat_id, _ = chat_of(event)
            self.deps.audit.record(
                AuditRecord(
                    actor=actor.name if actor else "?",
                    channel="telegram",
                    action=describe(event),
                    outcome=outcome,
                    detail=data.get("audit_detail"),
                    chat_id=chat_id,
                    update_id=update.update_id if update else None,
                    latency_ms=(time.perf_counter() - started) * 1000,
                )
            )


class GuardMiddleware(BaseMiddleware):
    """Inner: role, private-chat and rate-limit checks declared by handler flags."""

    def __init__(self, deps: BotDeps) -> None:
        self.deps = deps

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        actor: Actor = data["actor"]
        command = get_flag(data, "command")
        spec = BY_NAME.get(command) if isinstance(command, str) else None
        role = Role(get_flag(data, "role") or (spec.role if spec else Role.VIEWER))
        private = bool(get_flag(data, "private") or (spec and spec.private_only))
        if ROLE_RANK[actor.role] < ROLE_RANK[role]:
            data["outcome"] = "forbidden"
            what = f"/{spec.name}" if spec else "this"
            await tell(event, f"⛔ {what} needs the {role.value} role; you are {actor.role.value}.")
            return None
        _, chat_type = chat_of(event)
        if private and chat_type != "private":
            data["outcome"] = "forbidden"
            await tell(event, "🔒 Trading and admin commands work only in a private chat with me.")
            return None
        decision = await self.deps.limiter.hit(
            f"cmd:{actor.name}", self.deps.settings.commands_per_minute, 60.0
        )
        if not decision.allowed:
            data["outcome"] = "rate_limited"
            await tell(event, f"⏳ Slow down: try again in {decision.retry_after:.0f} s.")
            limit = f"{self.deps.settings.commands_per_minute} commands a minute"
            await self.deps.report_rate_limited(actor, limit)
            return None
        return await handler(event, data)
