"""/health, /logs and /errors: the platform's own state, for admins."""

from __future__ import annotations

from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from tradedeck.bot import system_views
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape
from tradedeck.bot.replies import send
from tradedeck.bot.routing import Routes
from tradedeck.domain.roles import Actor
from tradedeck.ops.log_buffer import LEVELS

router = Routes("system")

LOGS_USAGE = (
    f"Usage: /logs [N] [LEVEL], N up to {system_views.LOG_LINES_MAX}, LEVEL one of "
    f"{', '.join(LEVELS)}; e.g. <code>/logs 30 warning</code>"
)


@router.message(Command("health"), flags={"command": "health"})
async def health(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, await system_views.health(deps.services, actor))


@router.message(Command("logs"), flags={"command": "logs"})
async def logs(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    limit, level = system_views.LOG_LINES, "info"
    for word in (command.args or "").lower().split():
        if word.isdigit():
            limit = int(word)
            if not 0 < limit <= system_views.LOG_LINES_MAX:
                await message.answer(f"❌ N must be 1 to {system_views.LOG_LINES_MAX}.")
                return
        elif word in LEVELS:
            level = word
        else:
            await message.answer(f"❌ {escape(word)} is neither a count nor a level.\n{LOGS_USAGE}")
            return
    await send(message, system_views.logs(deps.services, actor, limit, level))


@router.message(Command("errors"), flags={"command": "errors"})
async def errors(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    arg = (command.args or "24").strip().lower().removesuffix("h")
    try:
        hours = float(arg)
        if not 0 < hours <= 24 * 30:
            raise ValueError
    except ValueError:
        await message.answer("Usage: /errors [HOURS], 1 to 720; e.g. <code>/errors 6</code>")
        return
    await send(message, system_views.errors(deps.services, actor, hours))
