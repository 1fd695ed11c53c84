"""/start, /help, /whoami and the main menu."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message

from tradedeck.bot import keyboards, views
from tradedeck.bot.callbacks import MenuCb
from tradedeck.bot.commands import commands_for, set_chat_commands
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape
from tradedeck.bot.replies import edit
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen
from tradedeck.domain.roles import Actor
from tradedeck.notify.notifier import EVENT_GROUPS

router = Routes("start")


def menu_screen(actor: Actor) -> Screen:
    return Screen(
        f"👋 Hi {escape(actor.name)} ({actor.role.value}). What would you like to see?",
        keyboards.main_menu(),
    )


@router.message(CommandStart(), flags={"command": "start"})
async def start(message: Message, actor: Actor) -> None:
    if message.chat.type == "private" and message.bot is not None:
        await set_chat_commands(message.bot, message.chat.id, actor.role)
    screen = menu_screen(actor)
    await message.answer(screen.text, reply_markup=screen.markup)


@router.message(Command("help"), flags={"command": "help"})
async def help_(message: Message, actor: Actor) -> None:
    role = actor.role.value
    lines = [f"<b>Commands for {'an' if role[0] in 'aeiou' else 'a'} {role}</b>"]
    for spec in commands_for(actor.role):
        usage = f" {escape(spec.usage)}" if spec.usage else ""
        lines.append(f"/{spec.name}{usage} · {escape(spec.description)}")
    lines.append("\nMoney-moving actions always show a preview and ask you to confirm.")
    await message.answer("\n".join(lines))


@router.message(Command("whoami"), flags={"command": "whoami"})
async def whoami(message: Message, actor: Actor) -> None:
    assert message.from_user is not None
    await message.answer(
        f"🪪 <b>{escape(actor.name)}</b> · role {actor.role.value} · "
        f"Telegram id <code>{message.from_user.id}</code>"
    )


@router.callback_query(MenuCb.filter())
async def menu(query: CallbackQuery, callback_data: MenuCb, actor: Actor, deps: BotDeps) -> None:
    services = deps.services
    section = callback_data.section
    if section == "portfolio":
        screen = views.balance(services, actor)
    elif section == "orders":
        screen = await views.orders(services, actor)
    elif section == "markets":
        screen = views.markets(services, actor)
    elif section == "system":
        screen = await views.status(services, actor)
    elif section == "settings":
        levels = await services.repository.notification_levels(actor.user_id or 0)
        screen = Screen(
            "🔔 <b>Notifications</b>: tap to change", keyboards.levels(levels, EVENT_GROUPS)
        )
    elif section == "trade":
        screen = Screen("💱 Use /buy or /sell (one line: <code>/buy ETH/BTC 0.5</code>).")
    else:
        screen = menu_screen(actor)
    await edit(query, screen)


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer("I don't know that command. /help lists what I can do.")
