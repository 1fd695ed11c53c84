"""What tests and the web chat see of the sandbox: immutable snapshots, never live state.

Snapshots let a test keep "the message before the edit" and compare it with the one after,
and mean nothing a test holds can change the emulator behind the bot's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SandboxUser:
    """A simulated Telegram user; their private chat with a bot has the same id."""

    id: int
    first_name: str
    username: str | None = None

    def payload(self) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": "en",
        }
        if self.username:
            user["username"] = self.username
        return user


@dataclass(frozen=True)
class InlineButton:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class FileInfo:
    """A photo or document the bot sent; ``data`` holds the exact bytes it uploaded."""

    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    data: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class SentMessage:
    """A bot message as it stands now, after any edits.

    ``text`` is what a person reads: the message text, or the caption of a photo or document
    ("" when there is none). ``html`` is the same content as Telegram HTML rebuilt from the
    entities, so formatting can be asserted without caring how the bot spelled its markup.
    ``version`` grows with every change anywhere in the emulator; a larger one is newer.
    """

    message_id: int
    chat_id: int
    text: str
    html: str
    date: int
    version: int
    parse_mode: str | None = None
    entities: tuple[dict[str, Any], ...] = ()
    reply_markup: dict[str, Any] | None = None
    buttons: tuple[tuple[InlineButton, ...], ...] = ()
    photo: FileInfo | None = None
    document: FileInfo | None = None
    disable_notification: bool = False
    reply_to_message_id: int | None = None
    edited: bool = False

    def all_buttons(self) -> list[InlineButton]:
        return [button for row in self.buttons for button in row]

    def button(self, text_or_data: str) -> InlineButton | None:
        """The button labelled ``text_or_data``, or else the one carrying it as callback data."""
        buttons = self.all_buttons()
        for button in buttons:
            if button.text == text_or_data:
                return button
        for button in buttons:
            if button.callback_data == text_or_data:
                return button
        return None


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made, with what it sent and how the emulator answered."""

    method: str
    params: dict[str, Any]
    time: float
    status: int
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200
