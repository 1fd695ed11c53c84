"""Bot API methods that put things in chats: send, edit, delete, answer callbacks, files.

Each handler validates everything first and checks flood control last, so a call refused for
any reason leaves no trace in the chat and is not counted against the bot's limits.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tradedeck.sandbox import content, media
from tradedeck.sandbox.errors import bad_request
from tradedeck.sandbox.html_rules import FormattedText
from tradedeck.sandbox.params import Params
from tradedeck.sandbox.state import BotState, ChatState, StoredFile, StoredMessage

if TYPE_CHECKING:
    from tradedeck.sandbox.core import Handler, SandboxCore

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


async def send_message(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    chat = core.chat_for_sending(bot, params.raw("chat_id"))
    text = content.message_text(params)
    return _post(core, bot, chat, params, text)


async def send_photo(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    return await _send_file(core, bot, params, "photo")


async def send_document(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    return await _send_file(core, bot, params, "document")


async def _send_file(core: SandboxCore, bot: BotState, params: Params, kind: str) -> dict[str, Any]:
    chat = core.chat_for_sending(bot, params.raw("chat_id"))
    caption = content.caption(params)
    source = params.upload(kind)
    if source is None:
        raise bad_request(f"there is no {kind} in the request")
    stored = media.resolve(bot, source, kind)
    return _post(core, bot, chat, params, caption, stored)


def _post(
    core: SandboxCore,
    bot: BotState,
    chat: ChatState,
    params: Params,
    text: FormattedText,
    file: StoredFile | None = None,
) -> dict[str, Any]:
    markup = content.reply_markup(params)
    reply_to = content.reply_target(params, chat)
    core.check_flood(bot, chat.id)
    message = core.add_message(chat, None, text)
    message.parse_mode = params.text("parse_mode") or None
    message.reply_markup = markup
    message.reply_to = reply_to
    message.disable_notification = params.flag("disable_notification")
    if file is not None:
        bot.store_file(file)
        if file.kind == "photo":
            message.photo = file
        else:
            message.document = file
    core.touch(message)
    return message.payload(bot, chat)


def _editable(core: SandboxCore, bot: BotState, params: Params) -> tuple[ChatState, StoredMessage]:
    if params.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # the sandbox has no inline mode
    chat = core.known_chat(bot, params.raw("chat_id"))
    message = chat.live_message(params.integer("message_id"))
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(
    core: SandboxCore,
    bot: BotState,
    chat: ChatState,
    message: StoredMessage,
    text: FormattedText,
    markup: dict[str, Any] | None,
    parse_mode: str | None,
) -> dict[str, Any]:
    """Replace content and keyboard; omitting reply_markup removes the keyboard, as live."""
    if text == message.content and markup == content.inline_part(message.reply_markup):
        raise bad_request(content.NOT_MODIFIED)
    core.check_flood(bot, chat.id)
    message.content = text
    message.reply_markup = markup
    message.parse_mode = parse_mode
    message.edit_date = int(time.time())
    core.touch(message)
    return message.payload(bot, chat)


async def edit_message_text(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    chat, message = _editable(core, bot, params)
    if message.has_media:
        raise bad_request("there is no text in the message to edit")
    text = content.message_text(params)
    markup = content.reply_markup(params, inline_only=True)
    return _apply_edit(core, bot, chat, message, text, markup, params.text("parse_mode"))


async def edit_message_caption(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    chat, message = _editable(core, bot, params)
    if not message.has_media:
        raise bad_request("there is no caption in the message to edit")
    caption = content.caption(params)
    markup = content.reply_markup(params, inline_only=True)
    return _apply_edit(core, bot, chat, message, caption, markup, params.text("parse_mode"))


MEDIA_KINDS = frozenset({"photo", "document"})
_MEDIA_FIELDS = ("media", "caption", "parse_mode", "caption_entities")


async def edit_message_media(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    """Replace a photo or document (and its caption) in place: an upload in a part named by
    ``attach://<part>``, or an earlier file_id. Caption and parse_mode live inside ``media``;
    omitting the caption removes it, as live."""
    chat, message = _editable(core, bot, params)
    if not message.has_media:
        raise bad_request("there is no media in the message to edit")
    described = params.json("media", error="can't parse InputMedia JSON object")
    if not isinstance(described, dict):
        raise bad_request("can't parse InputMedia JSON object")
    kind = described.get("type")
    if kind not in MEDIA_KINDS:
        raise bad_request(
            f"unsupported media type {kind!r}: the tradedeck sandbox emulates photo and document"
        )
    inner = params.nested({name: described.get(name) for name in _MEDIA_FIELDS})
    source = inner.upload("media")
    if source is None:
        raise bad_request("there is no media in the request")
    stored = media.resolve(bot, source, kind)
    text = content.caption(inner)
    markup = content.reply_markup(params, inline_only=True)
    current = message.photo or message.document
    if (
        current is not None
        and current.file_id == stored.file_id
        and text == message.content
        and markup == content.inline_part(message.reply_markup)
    ):
        raise bad_request(content.NOT_MODIFIED)
    core.check_flood(bot, chat.id)
    bot.store_file(stored)
    message.photo, message.document = (stored, None) if kind == "photo" else (None, stored)
    message.content = text
    message.reply_markup = markup
    message.parse_mode = inner.text("parse_mode") or None
    message.edit_date = int(time.time())
    core.touch(message)
    return message.payload(bot, chat)


async def edit_message_reply_markup(
    core: SandboxCore, bot: BotState, params: Params
) -> dict[str, Any]:
    chat, message = _editable(core, bot, params)
    markup = content.reply_markup(params, inline_only=True)
    return _apply_edit(core, bot, chat, message, message.content, markup, message.parse_mode)


async def delete_message(core: SandboxCore, bot: BotState, params: Params) -> bool:
    chat = core.known_chat(bot, params.raw("chat_id"))
    message = chat.live_message(params.integer("message_id"))
    if message is None:
        raise bad_request("message to delete not found")
    message.deleted = True
    core.touch(message)
    return True


async def answer_callback_query(core: SandboxCore, bot: BotState, params: Params) -> bool:
    query_id = params.text("callback_query_id") or ""
    query = bot.callback_queries.get(query_id)
    if query is None or query.answered:
        raise bad_request(QUERY_INVALID)
    query.answered = True
    answer = {
        "text": params.text("text"),
        "show_alert": params.flag("show_alert"),
        "url": params.text("url"),
        "cache_time": params.integer("cache_time") or 0,
    }
    bot.callback_answers[query_id] = answer
    core.log_answer(bot, query.chat_id, answer)
    return True


async def send_chat_action(core: SandboxCore, bot: BotState, params: Params) -> bool:
    core.chat_for_sending(bot, params.raw("chat_id"))
    if params.text("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


async def get_file(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    stored = bot.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > media.DOWNLOAD_LIMIT_BYTES:
        raise bad_request("file is too big")
    return {**stored.ids(), "file_path": stored.file_path}


METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageMedia": edit_message_media,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "getFile": get_file,
}
