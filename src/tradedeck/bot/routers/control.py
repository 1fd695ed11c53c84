"""/status, /kill and /resume."""

from __future__ import annotations

from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from tradedeck.bot import views
from tradedeck.bot.confirm import ask
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape
from tradedeck.bot.replies import send
from tradedeck.bot.routing import Routes
from tradedeck.domain.roles import Actor

router = Routes("control")


@router.message(Command("status"), flags={"command": "status"})
async def status(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, await views.status(deps.services, actor))


@router.message(Command("kill"), flags={"command": "kill"})
async def kill(message: Message, command: CommandObject, deps: BotDeps) -> None:
    reason = (command.args or "").strip()[:300] or "kill switch pulled from Telegram"
    assert message.from_user is not None
    await ask(
        message,
        deps,
        message.from_user.id,
        "kill",
        {"reason": reason},
        f"🛑 <b>Activate the kill switch?</b>\nAll trading stops and every open order is "
        f"canceled.\nReason: {escape(reason)}",
    )


@router.message(Command("resume"), flags={"command": "resume"})
async def resume(message: Message, deps: BotDeps) -> None:
    state = await deps.services.kill_switch.refresh()
    if not state.active:
        await message.answer("The kill switch is not active; trading is allowed.")
        return
    assert message.from_user is not None
    await ask(
        message,
        deps,
        message.from_user.id,
        "resume",
        {},
        f"✅ <b>Resume trading?</b>\nThe kill switch was activated by {escape(state.actor)}: "
        f"{escape(state.reason)}",
    )
