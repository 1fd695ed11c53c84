"""Shared machinery behind the emulator: bots by token, people, groups, and the change clock.

The public ``BotApiEmulator`` is a facade over this; method handlers get this core directly,
so the rules they need (who may be messaged, flood control, where updates go) live in one
place instead of being re-derived per method.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import tradedeck.sandbox.api_bot as api_bot
import tradedeck.sandbox.api_messages as api_messages
from tradedeck.sandbox.errors import (
    BotApiError,
    bad_request,
    forbidden,
    not_found,
    too_many_requests,
    unauthorized,
)
from tradedeck.sandbox.html_rules import FormattedText
from tradedeck.sandbox.limits import FloodControl, FloodLimits
from tradedeck.sandbox.models import ApiCall, SandboxUser
from tradedeck.sandbox.params import Params, parse_chat_id
from tradedeck.sandbox.state import BotState, ChatState, Signal, StoredMessage
from tradedeck.sandbox.webhook import WebhookDispatcher

TOKEN_PATTERN = re.compile(r"^\d{1,12}:[A-Za-z0-9_-]{10,}$")

# Every Bot API method: validate the params against this bot's state, return the result or
# raise BotApiError with Telegram's description.
Handler = Callable[["SandboxCore", BotState, Params], Awaitable[Any]]
_HANDLERS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler)
    for name, handler in {**api_bot.METHODS, **api_messages.METHODS}.items()
}


class SandboxCore:
    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, SandboxUser] = {}
        self.groups: dict[int, str] = {}
        self.version = 0
        self.changed = Signal()
        # (version, token, chat_id, answer) for the web chat to show callback toasts.
        self.answer_log: deque[tuple[int, str, int, dict[str, Any]]] = deque(maxlen=1000)
        self.webhooks = WebhookDispatcher(self._run_webhook_reply)

    def bot(self, token: str) -> BotState | None:
        """The bot for ``token``, created on first use; None if the token is malformed."""
        if not TOKEN_PATTERN.match(token):
            return None
        bot = self.bots.get(token)
        if bot is None:
            bot = self.bots[token] = BotState(token, FloodControl(self.limits, self.clock))
        return bot

    async def call(self, token: str, method: str, params: Params) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call and return (HTTP status, JSON body); every call is logged."""
        bot = self.bot(token)
        if bot is None:
            return 401, unauthorized().payload()
        started = self.clock()
        name, handler = _HANDLERS.get(method.lower(), (method, None))
        try:
            if handler is None:
                raise not_found()
            status, body = 200, {"ok": True, "result": await handler(self, bot, params)}
        except BotApiError as error:
            status, body = error.status, error.payload()
        description = None if status == 200 else str(body.get("description"))
        bot.calls.append(ApiCall(name, params.for_log(), started, status, description))
        return status, body

    async def _run_webhook_reply(self, token: str, method: str, params: dict[str, Any]) -> None:
        await self.call(token, method, Params(params))

    # -- changes -------------------------------------------------------------------------------

    def touch(self, message: StoredMessage) -> None:
        """Stamp a change so pollers and waiters see it."""
        self.version += 1
        message.version = self.version
        self.changed.notify()

    def add_message(
        self, chat: ChatState, sender: SandboxUser | None, content: FormattedText
    ) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.take_message_id(),
            chat_id=chat.id,
            date=int(time.time()),
            sender=sender,
            content=content,
            version=0,
        )
        chat.messages[message.message_id] = message
        return message

    def log_answer(self, bot: BotState, chat_id: int, answer: dict[str, Any]) -> None:
        self.version += 1
        self.answer_log.append((self.version, bot.token, chat_id, answer))
        self.changed.notify()

    def push_update(self, bot: BotState, kind: str, body: dict[str, Any]) -> int:
        """Queue an update for getUpdates or the webhook; returns its update_id.

        Types the bot excluded with allowed_updates are never created, as on Telegram.
        """
        update_id = bot.take_update_id()
        if bot.allowed_updates and kind not in bot.allowed_updates:
            return update_id
        bot.updates.append({"update_id": update_id, kind: body})
        bot.updates_signal.notify()
        self.webhooks.kick(bot)
        return update_id

    # -- rules shared by methods ---------------------------------------------------------------

    def chat_for_sending(self, bot: BotState, raw_chat_id: object) -> ChatState:
        """The chat a bot may post into, or Telegram's refusal for this chat id."""
        chat_id = parse_chat_id(raw_chat_id)
        if chat_id in bot.blocked_by:
            raise forbidden("bot was blocked by the user")
        chat = bot.chats.get(chat_id)
        if chat is not None:
            return chat
        if chat_id in self.groups:
            chat = bot.chats[chat_id] = ChatState.group(chat_id, self.groups[chat_id])
            return chat
        if chat_id in self.users:
            raise forbidden("bot can't initiate conversation with a user")
        raise bad_request("chat not found")

    def known_chat(self, bot: BotState, raw_chat_id: object) -> ChatState:
        chat = bot.chats.get(parse_chat_id(raw_chat_id))
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def check_flood(self, bot: BotState, chat_id: int) -> None:
        retry_after = bot.flood.try_acquire(chat_id)
        if retry_after is not None:
            raise too_many_requests(retry_after)
