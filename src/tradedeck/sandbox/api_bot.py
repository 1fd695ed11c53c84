"""Bot API methods about the bot itself: identity, commands, and how updates reach it.

Getting updates has Telegram's two mutually exclusive modes. While a webhook is set,
getUpdates is refused, and a long poll already waiting is ended with 409, which is how a bot
learns that another deployment took over. One bot may also run only one long poll at a time:
a newer getUpdates ends the older one with 409, the error two bot instances on one token see.

One deliberate relaxation: Telegram only calls HTTPS webhooks on ports 443, 80, 88 and 8443;
the sandbox accepts plain http on any port because it delivers to loopback test servers.
"""

from __future__ import annotations

import asyncio
import json
import re
from itertools import islice
from typing import TYPE_CHECKING, Any

from tradedeck.sandbox.errors import bad_request, conflict
from tradedeck.sandbox.params import Params, parse_chat_id
from tradedeck.sandbox.state import BotState, WebhookConfig

if TYPE_CHECKING:
    from tradedeck.sandbox.core import Handler, SandboxCore

MAX_POLL_SECONDS = 50.0
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_WEBHOOK_URL = re.compile(r"^https?://[^/\s?#]+", re.IGNORECASE)
_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


async def get_me(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    return {
        **bot.user_payload(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def log_out(core: SandboxCore, bot: BotState, params: Params) -> bool:
    return True


# -- commands ----------------------------------------------------------------------------------


def _scope_key(core: SandboxCore, bot: BotState, params: Params) -> tuple[str, str]:
    """Commands are stored per (scope, language); a chat scope needs a chat the bot can see.

    That last rule bites in production: per-user menus set at start-up fail with "chat not
    found" for anyone who has not written to the bot yet.
    """
    scope = params.json("scope", error="can't parse BotCommandScope JSON object")
    scope = scope if scope is not None else {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    if "chat_id" in scope:
        chat_id = parse_chat_id(scope["chat_id"])
        if chat_id not in bot.chats and chat_id not in core.groups:
            raise bad_request("chat not found")
    language = params.text("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return json.dumps(scope, sort_keys=True), language


def _commands(params: Params) -> list[dict[str, Any]]:
    commands = params.json("commands", error="can't parse commands JSON object")
    if not isinstance(commands, list):
        raise bad_request('field "commands" must be of type Array')
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        description = command.get("description")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return [{"command": c["command"], "description": c["description"]} for c in commands]


async def set_my_commands(core: SandboxCore, bot: BotState, params: Params) -> bool:
    commands = _commands(params)
    bot.commands[_scope_key(core, bot, params)] = commands
    return True


async def get_my_commands(core: SandboxCore, bot: BotState, params: Params) -> list[Any]:
    return list(bot.commands.get(_scope_key(core, bot, params), []))


async def delete_my_commands(core: SandboxCore, bot: BotState, params: Params) -> bool:
    bot.commands.pop(_scope_key(core, bot, params), None)
    return True


# -- webhook -----------------------------------------------------------------------------------


def _remember_allowed_updates(bot: BotState, params: Params) -> None:
    allowed = params.json("allowed_updates", error="can't parse allowed_updates JSON object")
    if allowed is None:
        return
    if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
        raise bad_request("can't parse allowed_updates JSON object")
    bot.allowed_updates = frozenset(allowed) or None  # empty means the default set


async def set_webhook(core: SandboxCore, bot: BotState, params: Params) -> bool:
    url = (params.text("url") or "").strip()
    if not url:
        return await delete_webhook(core, bot, params)
    if not _WEBHOOK_URL.match(url):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.text("secret_token") or None
    if secret is not None and not _SECRET.match(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = params.integer("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    _remember_allowed_updates(bot, params)
    if params.flag("drop_pending_updates"):
        bot.updates.clear()
    if bot.webhook is None or bot.webhook.url != url:
        bot.last_error_date = bot.last_error_message = None
    bot.webhook = WebhookConfig(url=url, secret_token=secret, max_connections=max_connections)
    bot.updates_signal.notify()  # a waiting getUpdates must now end with 409
    core.webhooks.kick(bot)
    return True


async def delete_webhook(core: SandboxCore, bot: BotState, params: Params) -> bool:
    if params.flag("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook = None
    return True


async def get_webhook_info(core: SandboxCore, bot: BotState, params: Params) -> dict[str, Any]:
    info: dict[str, Any] = {
        "url": bot.webhook.url if bot.webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook is not None:
        info["max_connections"] = bot.webhook.max_connections
        info["ip_address"] = bot.webhook.ip_address
        if bot.allowed_updates:
            info["allowed_updates"] = sorted(bot.allowed_updates)
    if bot.last_error_date is not None:
        info["last_error_date"] = bot.last_error_date
        info["last_error_message"] = bot.last_error_message
    return info


# -- long polling ------------------------------------------------------------------------------


def _confirm(bot: BotState, offset: int | None) -> None:
    """Forget updates below ``offset``; a negative offset keeps only the last -offset."""
    if offset is None or offset == 0:
        return
    if offset < 0:
        while len(bot.updates) > -offset:
            bot.updates.popleft()
        return
    while bot.updates and bot.updates[0]["update_id"] < offset:
        bot.updates.popleft()


async def get_updates(core: SandboxCore, bot: BotState, params: Params) -> list[dict[str, Any]]:
    if bot.webhook is not None:
        raise conflict(
            "can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first"
        )
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.updates_signal.notify()  # an older poll still waiting learns it was replaced
    _remember_allowed_updates(bot, params)
    _confirm(bot, params.integer("offset"))
    limit = min(100, max(1, params.integer("limit") or 100))
    timeout = min(MAX_POLL_SECONDS, max(0.0, params.number("timeout") or 0.0))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if generation != bot.poll_generation:
            raise conflict(
                "terminated by other getUpdates request; "
                "make sure that only one bot instance is running"
            )
        if bot.webhook is not None:
            raise conflict("terminated by setWebhook request")
        remaining = deadline - loop.time()
        if bot.updates or remaining <= 0:
            return list(islice(bot.updates, limit))
        await bot.updates_signal.wait(remaining)


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": log_out,
    "close": log_out,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "getUpdates": get_updates,
}
