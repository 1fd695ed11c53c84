"""The JSON the web chat polls: one chat's messages from both sides, and callback answers.

The page asks for changes since the version it last saw, so an edit or a deletion arrives as
the message's new state; deleted messages are kept (flagged) so the page can remove them.
File links point at the web chat's own file route so the page never needs the bot token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradedeck.sandbox.state import BotState, StoredMessage


def chat_changes(
    bot: BotState | None,
    chat_id: int,
    after: int,
    version: int,
    answers: Iterable[tuple[int, str, int, dict[str, Any]]],
) -> dict[str, Any]:
    chat = bot.chats.get(chat_id) if bot is not None else None
    messages = [] if chat is None else sorted(chat.messages.values(), key=lambda m: m.message_id)
    return {
        "version": version,
        "bot": None if bot is None else {"name": bot.first_name, "username": bot.username},
        "messages": [web_message(m) for m in messages if m.version > after],
        "answers": [
            {"version": stamp, **answer}
            for stamp, token, answered_chat, answer in answers
            if stamp > after and bot is not None and token == bot.token and answered_chat == chat_id
        ],
    }


def web_message(message: StoredMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "text": message.content.text,
        "entities": list(message.content.entities),
        "buttons": [
            [{"text": b.text, "callback_data": b.callback_data, "url": b.url} for b in row]
            for row in message.buttons()
        ],
        "date": message.date,
        "edited": message.edit_date is not None,
        "deleted": message.deleted,
        "version": message.version,
        "reply_to_message_id": message.reply_to,
    }
    if message.photo is not None:
        body["photo"] = {
            "url": f"api/file/{message.photo.file_id}",
            "width": message.photo.width,
            "height": message.photo.height,
        }
    if message.document is not None:
        body["document"] = {
            "url": f"api/file/{message.document.file_id}",
            "file_name": message.document.file_name,
            "size": len(message.document.data),
        }
    return body
