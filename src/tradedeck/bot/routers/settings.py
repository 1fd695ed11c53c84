"""/settings: notification level per event group (on / silent / off)."""

from __future__ import annotations

from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from tradedeck.bot import keyboards
from tradedeck.bot.callbacks import LevelCb
from tradedeck.bot.context import BotDeps
from tradedeck.bot.replies import edit
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen
from tradedeck.domain.roles import Actor
from tradedeck.notify.notifier import EVENT_GROUPS, LEVELS, effective_levels

router = Routes("settings")
TITLE = "🔔 <b>Notifications</b>: tap to change (on → silent → off)"


@router.message(Command("settings"), flags={"command": "settings"})
async def settings(message: Message, actor: Actor, deps: BotDeps) -> None:
    levels = await deps.services.repository.notification_levels(actor.user_id or 0)
    levels = effective_levels(actor.role, levels)  # unset groups show the role's default
    await message.answer(TITLE, reply_markup=keyboards.levels(levels, EVENT_GROUPS))


@router.callback_query(LevelCb.filter())
async def change(query: CallbackQuery, callback_data: LevelCb, actor: Actor, deps: BotDeps) -> None:
    if callback_data.group not in EVENT_GROUPS or callback_data.level not in LEVELS:
        await query.answer("Unknown setting.", show_alert=True)
        return
    repo = deps.services.repository
    await repo.set_notification_level(actor.user_id or 0, callback_data.group, callback_data.level)
    if deps.notifier is not None:
        deps.notifier.invalidate(actor.user_id)
    levels = effective_levels(actor.role, await repo.notification_levels(actor.user_id or 0))
    await edit(query, Screen(TITLE, keyboards.levels(levels, EVENT_GROUPS)))
