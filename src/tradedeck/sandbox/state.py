"""The emulator's mutable, in-memory world: bots, their chats, messages, updates and files.

Everything is per bot, as on Telegram: a bot sees its own private chats, update ids, file ids
and callback queries. These classes hold data and build the Bot API JSON for it; the rules
about what may change live with the method handlers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tradedeck.sandbox.html_rules import FormattedText, render_html
from tradedeck.sandbox.limits import FloodControl
from tradedeck.sandbox.models import ApiCall, FileInfo, InlineButton, SandboxUser, SentMessage

CALL_LOG_LIMIT = 10_000
# Supergroup ids start here; anything negative above it is a basic group.
SUPERGROUP_ID_LIMIT = -1_000_000_000_000


class Signal:
    """Wakes every current waiter at once.

    Futures are created on the waiter's running loop at wait time, so an emulator built before
    any loop runs, or used by successive test loops, never holds a primitive bound to a dead one.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, seconds: float) -> bool:
        """Return True if notified, False if ``seconds`` passed first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await waiter
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(waiter)


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo" or "document"
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    def info(self) -> FileInfo:
        return FileInfo(
            file_id=self.file_id,
            file_unique_id=self.file_unique_id,
            file_path=self.file_path,
            size=len(self.data),
            mime_type=self.mime_type,
            file_name=self.file_name,
            width=self.width,
            height=self.height,
            data=self.data,
        )

    def ids(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [{**self.ids(), "width": self.width or 0, "height": self.height or 0}]

    def document(self) -> dict[str, Any]:
        body = self.ids()
        if self.file_name:
            body["file_name"] = self.file_name
        if self.mime_type:
            body["mime_type"] = self.mime_type
        return body


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    date: int
    sender: SandboxUser | None  # None: the bot sent it
    content: FormattedText
    version: int
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    disable_notification: bool = False
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        return self.sender is None

    @property
    def has_media(self) -> bool:
        return self.photo is not None or self.document is not None

    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        rows = (self.reply_markup or {}).get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    def buttons(self) -> tuple[tuple[InlineButton, ...], ...]:
        return tuple(
            tuple(
                InlineButton(
                    text=str(button.get("text", "")),
                    callback_data=button.get("callback_data"),
                    url=button.get("url"),
                )
                for button in row
            )
            for row in self.inline_keyboard()
        )

    def snapshot(self) -> SentMessage:
        return SentMessage(
            message_id=self.message_id,
            chat_id=self.chat_id,
            text=self.content.text,
            html=render_html(self.content),
            date=self.date,
            version=self.version,
            parse_mode=self.parse_mode,
            entities=self.content.entities,
            reply_markup=self.reply_markup,
            buttons=self.buttons(),
            photo=self.photo.info() if self.photo else None,
            document=self.document.info() if self.document else None,
            disable_notification=self.disable_notification,
            reply_to_message_id=self.reply_to,
            edited=self.edit_date is not None,
        )

    def payload(self, bot: BotState, chat: ChatState, *, with_reply: bool = True) -> dict[str, Any]:
        """The Bot API Message object, as returned by send methods and inside updates."""
        body: dict[str, Any] = {
            "message_id": self.message_id,
            "from": bot.user_payload() if self.sender is None else self.sender.payload(),
            "chat": chat.payload(),
            "date": self.date,
        }
        if self.edit_date is not None:
            body["edit_date"] = self.edit_date
        body.update(self._content_payload())
        replied = chat.messages.get(self.reply_to) if self.reply_to else None
        if with_reply and replied is not None and not replied.deleted:
            body["reply_to_message"] = replied.payload(bot, chat, with_reply=False)
        if self.inline_keyboard():  # other keyboards are never echoed back in a Message
            body["reply_markup"] = {"inline_keyboard": self.inline_keyboard()}
        return body

    def _content_payload(self) -> dict[str, Any]:
        media = self.has_media
        text_key, entities_key = ("caption", "caption_entities") if media else ("text", "entities")
        body: dict[str, Any] = {}
        if self.photo is not None:
            body["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            body["document"] = self.document.document()
        if self.content.text or not self.has_media:
            body[text_key] = self.content.text
        if self.content.entities:
            body[entities_key] = list(self.content.entities)
        return body


@dataclass
class ChatState:
    id: int
    type: str  # private, group or supergroup
    title: str | None = None
    user: SandboxUser | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1

    @classmethod
    def private(cls, user: SandboxUser) -> ChatState:
        return cls(id=user.id, type="private", user=user)

    @classmethod
    def group(cls, chat_id: int, title: str) -> ChatState:
        kind = "supergroup" if chat_id <= SUPERGROUP_ID_LIMIT else "group"
        return cls(id=chat_id, type=kind, title=title)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title is not None:
            body["title"] = self.title
        if self.user is not None:
            body["first_name"] = self.user.first_name
            if self.user.username:
                body["username"] = self.user.username
        return body

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def live_message(self, message_id: int | None) -> StoredMessage | None:
        message = self.messages.get(message_id) if message_id is not None else None
        return message if message is not None and not message.deleted else None


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str = "127.0.0.1"


@dataclass
class CallbackQuery:
    id: str
    chat_id: int
    message_id: int
    user_id: int
    answered: bool = False


class BotState:
    """Everything one bot token owns."""

    def __init__(self, token: str, flood: FloodControl) -> None:
        self.token = token
        self.id = int(token.split(":", 1)[0])
        self.first_name = "Sandbox Bot"
        self.username = f"sandbox_{self.id}_bot"
        self.flood = flood
        self.chats: dict[int, ChatState] = {}
        self.blocked_by: set[int] = set()
        self.updates: deque[dict[str, Any]] = deque()
        self.next_update_id = 1000
        self.allowed_updates: frozenset[str] | None = None
        self.updates_signal = Signal()
        self.poll_generation = 0
        self.webhook: WebhookConfig | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        # Bounded so an embedded sandbox left running for days does not grow without limit.
        self.calls: deque[ApiCall] = deque(maxlen=CALL_LOG_LIMIT)
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}

    def user_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def take_update_id(self) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        return update_id

    def store_file(self, stored: StoredFile) -> None:
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
