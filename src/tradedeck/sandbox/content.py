"""Validation of what a bot puts in a message: text, captions, keyboards and reply targets.

These are the refusals bots hit most in production (a 4097th character, a 65-byte
callback_data, a stray ``<``), so each one answers with Telegram's exact description.
"""

from __future__ import annotations

from typing import Any

from tradedeck.sandbox.errors import bad_request
from tradedeck.sandbox.html_rules import (
    EntityParseError,
    FormattedText,
    normalize_url,
    parse_html,
    sort_entities,
    trim,
)
from tradedeck.sandbox.params import Params
from tradedeck.sandbox.state import ChatState

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_BAD_MARKUP = "can't parse reply keyboard markup JSON object"
_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "callback_game",
        "pay",
        "web_app",
        "copy_text",
    }
)
_OTHER_KEYBOARDS = ("keyboard", "remove_keyboard", "force_reply")


def message_text(params: Params) -> FormattedText:
    content = formatted(params, "text", "entities")
    if not content.text:
        raise bad_request("message text is empty")
    if len(content.text) > TEXT_LIMIT:  # Telegram counts code points, after entity parsing
        raise bad_request("message is too long")
    return content


def caption(params: Params) -> FormattedText:
    content = formatted(params, "caption", "caption_entities")
    if len(content.text) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    return content


def formatted(params: Params, text_field: str, entities_field: str) -> FormattedText:
    """The visible text and entities; explicit entities win over parse_mode, as in the Bot API."""
    source = params.text(text_field) or ""
    explicit = params.json(entities_field, error="can't parse entities JSON object")
    if explicit:
        return trim(FormattedText(source, _explicit_entities(explicit)))
    mode = (params.text("parse_mode") or "").strip().lower()
    if mode == "html":
        try:
            return trim(parse_html(source))
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    if mode in {"markdown", "markdownv2"}:
        # Unchecked Markdown would pass here and fail live; refusing keeps the sandbox honest.
        raise bad_request(
            "can't parse entities: the tradedeck sandbox only emulates parse_mode HTML"
        )
    if mode:
        raise bad_request("unsupported parse_mode")
    return trim(FormattedText(source))


def _explicit_entities(raw: object) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    entities: list[dict[str, Any]] = []
    for item in raw:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("type"), str)
            and isinstance(item.get("offset"), int)
            and isinstance(item.get("length"), int)
        ):
            raise bad_request("can't parse entities JSON object")
        entities.append(item)
    return sort_entities(entities)


def reply_markup(params: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
    markup = params.json("reply_markup", error=_BAD_MARKUP)
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request(_BAD_MARKUP)
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _inline_keyboard(markup["inline_keyboard"])}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if any(key in markup for key in _OTHER_KEYBOARDS):
        return markup
    raise bad_request(_BAD_MARKUP)


def _inline_keyboard(rows: object) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    return [[_button(button) for button in row] for row in rows]


def _button(raw: object) -> dict[str, Any]:
    """A validated button; JSON nulls count as absent, as in the Bot API."""
    if not isinstance(raw, dict):
        raise bad_request("can't parse inline keyboard button: Object expected")
    button = {key: value for key, value in raw.items() if value is not None}
    _check_button(button)
    return button


def _check_button(button: dict[str, Any]) -> None:
    if not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not _BUTTON_ACTIONS & button.keys():
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not data or len(data.encode()) > CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or normalize_url(url) is None:
            raise bad_request("BUTTON_URL_INVALID")


def inline_part(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a markup that belongs to the message; reply keyboards live on the client."""
    if markup is None or "inline_keyboard" not in markup:
        return None
    return markup


def reply_target(params: Params, chat: ChatState) -> int | None:
    """The message being replied to, or Telegram's refusal when it does not exist."""
    options = params.json("reply_parameters", error="can't parse reply parameters JSON object")
    if isinstance(options, dict):
        message_id = options.get("message_id")
        allow_missing = bool(options.get("allow_sending_without_reply"))
    else:
        message_id = params.integer("reply_to_message_id")
        allow_missing = params.flag("allow_sending_without_reply")
    if not isinstance(message_id, int) or message_id == 0:
        return None
    if chat.live_message(message_id) is None:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return message_id
