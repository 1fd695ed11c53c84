"""``BotApiEmulator``: a local stand-in for api.telegram.org, plus the hands of simulated users.

A bot talks to it over HTTP exactly as to Telegram (see ``tradedeck.sandbox.app``), while
tests and the web chat act as people through the ``user_*`` methods and read back what the bot
did. All state is in memory and per instance, so every test can have a fresh Telegram.

Users can only do what a Telegram client allows: they press buttons that exist on messages in
their own chat, and they write into chats they are in. Asking for anything else raises
``UserActionError`` in the test instead of producing an update no real client could send.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from tradedeck.sandbox.content import TEXT_LIMIT
from tradedeck.sandbox.core import TOKEN_PATTERN, SandboxCore
from tradedeck.sandbox.errors import UserActionError
from tradedeck.sandbox.html_rules import FormattedText, utf16_len
from tradedeck.sandbox.limits import FloodLimits
from tradedeck.sandbox.models import ApiCall, FileInfo, SandboxUser, SentMessage
from tradedeck.sandbox.params import Params
from tradedeck.sandbox.state import BotState, CallbackQuery, ChatState, StoredMessage
from tradedeck.sandbox.webview import chat_changes

__all__ = ["BotApiEmulator", "FloodLimits", "SandboxUser", "SentMessage", "command_entities"]

# Telegram marks /command and /command@bot_username anywhere a word can start.
_BOT_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z][A-Za-z0-9_]{2,31})?(?![\w@/])")
_CALLBACK_ID_BASE = 4_300_000_000_000_000_000


class BotApiEmulator:
    def __init__(
        self,
        *,
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = SandboxCore(limits or FloodLimits(), clock)
        self._default_token: str | None = None
        self._callback_count = 0

    # -- the Bot API side ----------------------------------------------------------------------

    async def call(self, token: str, method: str, params: Params) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call; returns the HTTP status and JSON body Telegram would send."""
        return await self._core.call(token, method, params)

    def file(self, token: str, file_path: str) -> FileInfo | None:
        bot = self._core.bots.get(token)
        stored = bot.files_by_path.get(file_path) if bot is not None else None
        return stored.info() if stored is not None else None

    def file_by_id(self, token: str, file_id: str) -> FileInfo | None:
        bot = self._core.bots.get(token)
        stored = bot.files.get(file_id) if bot is not None else None
        return stored.info() if stored is not None else None

    # -- configuration -------------------------------------------------------------------------

    @property
    def default_token(self) -> str | None:
        """The bot the web chat talks to: the one set by the host, else the only bot seen."""
        if self._default_token is not None:
            return self._default_token
        return next(iter(self._core.bots)) if len(self._core.bots) == 1 else None

    @default_token.setter
    def default_token(self, token: str | None) -> None:
        if token is not None:
            self._bot(token)
        self._default_token = token

    def register_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> None:
        """Give a bot the identity getMe reports, e.g. so ``/start@name`` addresses it."""
        bot = self._bot(token)
        bot.username = username or bot.username
        bot.first_name = first_name or bot.first_name

    def open_group(self, chat_id: int, title: str) -> None:
        """Create a group every bot is a member of; ids <= -10**12 make it a supergroup."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self._core.groups[chat_id] = title

    def user_blocks_bot(self, token: str, user: SandboxUser) -> None:
        """The user blocks the bot; writing to it again unblocks, like restarting it."""
        self._core.users[user.id] = user
        self._bot(token).blocked_by.add(user.id)

    # -- users acting --------------------------------------------------------------------------

    def user_opened(self, token: str, user: SandboxUser) -> None:
        """``user`` has a private chat with the bot (as after pressing Start once), so the
        bot may write first: the sandbox's own user sees pushes that arrived before the
        web chat was opened instead of the bot being told "chat not found"."""
        bot = self._bot(token)
        self._core.users[user.id] = user
        self._chat_of(bot, user, None)

    async def user_sends(
        self, token: str, user: SandboxUser, text: str, *, chat_id: int | None = None
    ) -> int:
        """``user`` writes ``text``; returns the update_id of the message update."""
        bot = self._bot(token)
        if not text.strip():
            raise UserActionError("Telegram clients do not send empty messages")
        if len(text) > TEXT_LIMIT:
            raise UserActionError(f"Telegram clients split messages over {TEXT_LIMIT} characters")
        self._core.users[user.id] = user
        bot.blocked_by.discard(user.id)
        chat = self._chat_of(bot, user, chat_id)
        message = self._core.add_message(chat, user, FormattedText(text, command_entities(text)))
        self._core.touch(message)
        return self._core.push_update(bot, "message", message.payload(bot, chat))

    async def user_presses(
        self, token: str, user: SandboxUser, chat_id: int, message_id: int, callback_data: str
    ) -> str:
        """``user`` presses the button carrying ``callback_data``; returns the query id."""
        bot = self._bot(token)
        chat = self._chat_of(bot, user, chat_id)
        message = _bot_message(chat, message_id)
        if not any(b.callback_data == callback_data for b in message.snapshot().all_buttons()):
            raise UserActionError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"it has {_describe_buttons(message.snapshot())}"
            )
        return self._push_callback(bot, user, chat, message, callback_data)

    async def forged_press(
        self, token: str, user: SandboxUser, chat_id: int, message_id: int, callback_data: str
    ) -> str:
        """A modified client sends a callback no button of its own carries; returns the query id.

        Only for testing the bot's defences (forged or foreign callback data): no button check
        and no membership check, so ``user`` may even be someone outside the chat. The query is
        real to the emulator, so the bot can answer it.
        """
        bot = self._bot(token)
        chat = bot.chats.get(chat_id)
        if chat is None:
            raise UserActionError(f"the bot has no chat {chat_id}")
        return self._push_callback(bot, user, chat, _bot_message(chat, message_id), callback_data)

    def _push_callback(
        self,
        bot: BotState,
        user: SandboxUser,
        chat: ChatState,
        message: StoredMessage,
        callback_data: str,
    ) -> str:
        self._core.users[user.id] = user
        self._callback_count += 1
        query_id = str(_CALLBACK_ID_BASE + self._callback_count)
        bot.callback_queries[query_id] = CallbackQuery(
            query_id, chat.id, message.message_id, user.id
        )
        body = {
            "id": query_id,
            "from": user.payload(),
            "message": message.payload(bot, chat),
            "chat_instance": str((chat.id * 2_654_435_761) % 2**63),
            "data": callback_data,
        }
        self._core.push_update(bot, "callback_query", body)
        return query_id

    def _chat_of(self, bot: BotState, user: SandboxUser, chat_id: int | None) -> ChatState:
        if chat_id is None or chat_id == user.id:
            chat = bot.chats.setdefault(user.id, ChatState.private(user))
            chat.user = user
            return chat
        if chat_id in self._core.groups:
            return bot.chats.setdefault(
                chat_id, ChatState.group(chat_id, self._core.groups[chat_id])
            )
        raise UserActionError(
            f"user {user.id} is not in chat {chat_id}: private chats share the user's id, "
            "groups must be opened with open_group()"
        )

    # -- reading what happened -----------------------------------------------------------------

    @property
    def version(self) -> int:
        """Grows with every change to any chat; compare with ``SentMessage.version``."""
        return self._core.version

    def messages(self, token: str, chat_id: int) -> list[SentMessage]:
        """The bot's messages in a chat as they stand now, oldest first, deleted ones left out."""
        bot = self._core.bots.get(token)
        chat = bot.chats.get(chat_id) if bot is not None else None
        if chat is None:
            return []
        ordered = sorted(chat.messages.values(), key=lambda m: m.message_id)
        return [m.snapshot() for m in ordered if m.from_bot and not m.deleted]

    def calls(self, token: str) -> list[ApiCall]:
        bot = self._core.bots.get(token)
        return list(bot.calls) if bot is not None else []

    def callback_answers(self, token: str) -> dict[str, dict[str, Any]]:
        bot = self._core.bots.get(token)
        return {k: dict(v) for k, v in bot.callback_answers.items()} if bot is not None else {}

    def chat_changes(self, token: str, chat_id: int, after: int = 0) -> dict[str, Any]:
        """Both sides of a chat changed since version ``after``, for the web chat."""
        core = self._core
        return chat_changes(core.bots.get(token), chat_id, after, core.version, core.answer_log)

    async def wait_for_message(
        self,
        token: str,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - bounds a wait on emulator state, not on I/O
    ) -> SentMessage:
        """The earliest-changed bot message matching ``predicate``, waiting for one to appear."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [m for m in self.messages(token, chat_id) if predicate is None or predicate(m)]
            if found:
                return min(found, key=lambda m: m.version)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(token, chat_id, timeout))
            await self._core.changed.wait(remaining)

    def _timeout_report(self, token: str, chat_id: int, timeout: float) -> str:
        shown = [
            f"  #{m.message_id} v{m.version}: {m.text[:80]!r}"
            for m in self.messages(token, chat_id)
        ]
        failed = [f"  {c.method}: {c.description}" for c in self.calls(token) if not c.ok]
        return "\n".join(
            [f"no matching bot message in chat {chat_id} within {timeout}s; bot messages:"]
            + (shown or ["  (none)"])
            + (["refused calls:", *failed] if failed else [])
        )

    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - as above
        """Wait until every update queued for a webhook has been delivered (or given up)."""
        await self._core.webhooks.wait_idle(self._core.bots.values(), timeout)

    async def close(self) -> None:
        """Stop webhook deliveries; call from the host's shutdown. The emulator stays usable."""
        await self._core.webhooks.aclose()

    aclose = close

    def _bot(self, token: str) -> BotState:
        bot = self._core.bot(token)
        if bot is None:
            raise ValueError(f"not a bot token (expected {TOKEN_PATTERN.pattern})")
        return bot


def command_entities(text: str) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _BOT_COMMAND.finditer(text)
    )


def _bot_message(chat: ChatState, message_id: int) -> StoredMessage:
    message = chat.live_message(message_id)
    if message is None or not message.from_bot:
        raise UserActionError(f"chat {chat.id} has no bot message {message_id}")
    return message


def _describe_buttons(message: SentMessage) -> str:
    buttons = [f"{b.text!r} ({b.callback_data or b.url})" for b in message.all_buttons()]
    return ", ".join(buttons) or "no buttons"
