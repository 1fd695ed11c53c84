"""/status, /kill and /resume, and the kill switch button of the status screen."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from tradedeck.bot import views
from tradedeck.bot.callbacks import KillSwitchCb
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


DEFAULT_REASON = "kill switch pulled from Telegram"


@router.message(Command("kill"), flags={"command": "kill"})
async def kill(message: Message, command: CommandObject, deps: BotDeps) -> None:
    await ask_kill(message, deps, (command.args or "").strip()[:300] or DEFAULT_REASON)


@router.message(Command("resume"), flags={"command": "resume"})
async def resume(message: Message, deps: BotDeps) -> None:
    await ask_resume(message, deps)


@router.callback_query(KillSwitchCb.filter(F.on), flags={"role": "trader", "private": True})
async def kill_button(query: CallbackQuery, deps: BotDeps) -> None:
    await ask_kill(query, deps, DEFAULT_REASON)


@router.callback_query(KillSwitchCb.filter(~F.on), flags={"role": "admin", "private": True})
async def resume_button(query: CallbackQuery, deps: BotDeps) -> None:
    await ask_resume(query, deps)


async def ask_kill(target: Message | CallbackQuery, deps: BotDeps, reason: str) -> None:
    assert target.from_user is not None
    await ask(
        target,
        deps,
        target.from_user.id,
        "kill",
        {"reason": reason},
        f"🛑 <b>Activate the kill switch?</b>\nAll trading stops and every open order is "
        f"canceled.\nReason: {escape(reason)}",
    )


async def ask_resume(target: Message | CallbackQuery, deps: BotDeps) -> None:
    state = await deps.services.kill_switch.refresh()
    if not state.active:
        text = "The kill switch is not active; trading is allowed."
        if isinstance(target, CallbackQuery):
            await target.answer(text, show_alert=True)
        else:
            await target.answer(text)
        return
    assert target.from_user is not None
    await ask(
        target,
        deps,
        target.from_user.id,
        "resume",
        {},
        f"✅ <b>Resume trading?</b>\nThe kill switch was activated by {escape(state.actor)}: "
        f"{escape(state.reason)}",
    )
