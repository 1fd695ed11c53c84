"""/settings: notification level per event group (on / silent / off), and the periodic
reports (hourly balance, daily PnL) each switched on or off."""

from __future__ import annotations

from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from tradedeck.bot import keyboards
from tradedeck.bot.callbacks import LevelCb, ReportCb
from tradedeck.bot.context import BotDeps
from tradedeck.bot.replies import edit
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen
from tradedeck.domain.errors import DomainError
from tradedeck.domain.roles import Actor
from tradedeck.notify.notifier import EVENT_GROUPS, LEVELS, effective_levels
from tradedeck.ops.reports import REPORTS

router = Routes("settings")
TITLE = "🔔 <b>Notifications</b>: tap to change (on → silent → off)"


@router.message(Command("settings"), flags={"command": "settings"})
async def settings(message: Message, actor: Actor, deps: BotDeps) -> None:
    levels = await deps.services.repository.notification_levels(actor.user_id or 0)
    levels = effective_levels(actor.role, levels)  # unset groups show the role's default
    markup = await _with_reports(keyboards.levels(levels, EVENT_GROUPS), actor, deps)
    await message.answer(TITLE, reply_markup=markup)


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
    markup = await _with_reports(keyboards.levels(levels, EVENT_GROUPS), actor, deps)
    await edit(query, Screen(TITLE, markup))


async def _with_reports(
    markup: InlineKeyboardMarkup, actor: Actor, deps: BotDeps
) -> InlineKeyboardMarkup:
    """The level buttons, then one on/off button per periodic report."""
    chosen = await deps.services.reports.choices(actor)
    rows = [
        [
            InlineKeyboardButton(
                text=f"{'📊' if chosen[kind] else '🚫'} {label}: {'on' if chosen[kind] else 'off'}",
                callback_data=ReportCb(kind=kind, on=not chosen[kind]).pack(),
            )
        ]
        for kind, label in REPORTS.items()
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*markup.inline_keyboard, *rows])


@router.callback_query(ReportCb.filter(), flags={"command": "settings"})
async def report(
    query: CallbackQuery, callback_data: ReportCb, actor: Actor, deps: BotDeps
) -> None:
    try:
        await deps.services.reports.choose(actor, callback_data.kind, callback_data.on)
    except DomainError as error:
        await query.answer(error.detail, show_alert=True)
        return
    levels = effective_levels(
        actor.role, await deps.services.repository.notification_levels(actor.user_id or 0)
    )
    markup = await _with_reports(keyboards.levels(levels, EVENT_GROUPS), actor, deps)
    await edit(query, Screen(TITLE, markup))
