"""Read-only views: balance, positions, orders, trades, PnL, prices (and their buttons)."""

from __future__ import annotations

from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from tradedeck.bot import system_views, views
from tradedeck.bot.callbacks import PageCb, RefreshCb
from tradedeck.bot.context import BotDeps
from tradedeck.bot.replies import edit, refusal, send
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen
from tradedeck.domain.errors import DomainError
from tradedeck.domain.roles import Actor
from tradedeck.ops.log_buffer import LEVELS
from tradedeck.services import Services

router = Routes("portfolio")
PERIODS = ("day", "week", "month")


@router.message(Command("balance"), flags={"command": "balance"})
async def balance(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, views.balance(deps.services, actor))


@router.message(Command("positions"), flags={"command": "positions"})
async def positions(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, views.positions(deps.services, actor))


@router.message(Command("orders"), flags={"command": "orders"})
async def orders(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, await views.orders(deps.services, actor))


@router.message(Command("trades"), flags={"command": "trades"})
async def trades(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    arg = (command.args or "10").strip()
    if not arg.isdigit() or not 1 <= int(arg) <= 50:
        await message.answer("Usage: /trades [n] with n from 1 to 50.")
        return
    await send(message, await views.trades(deps.services, actor, int(arg)))


@router.message(Command("pnl"), flags={"command": "pnl"})
async def pnl(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    period = (command.args or "day").strip().lower()
    if period not in PERIODS:
        await message.answer("Usage: /pnl [day|week|month]")
        return
    await send(message, await views.pnl_view(deps.services, actor, period))


@router.message(Command("price"), flags={"command": "price"})
async def price(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    if not command.args:
        await message.answer("Usage: /price SYMBOL, e.g. <code>/price ETH/BTC</code>")
        return
    try:
        await send(message, views.price(deps.services, actor, command.args.strip()))
    except DomainError as error:
        await message.answer(refusal(error))


async def render(view: str, services: Services, actor: Actor, page: int = 0) -> Screen:
    """Any view by name, for Refresh and page buttons."""
    if view == "balance":
        return views.balance(services, actor)
    if view == "positions":
        return views.positions(services, actor)
    if view == "orders":
        return await views.orders(services, actor, page)
    if view.startswith("trades"):
        return await views.trades(services, actor, int(view[6:] or 10), page)
    if view.startswith("pnl_") and view[4:] in PERIODS:
        return await views.pnl_view(services, actor, view[4:])
    if view.startswith("price_"):
        return views.price(services, actor, view[6:])
    if view == "markets":
        return views.markets(services, actor)
    if view == "status":
        return await views.status(services, actor)
    if view == "health":
        return await system_views.health(services, actor)
    if view == "logs" or (view.startswith("logs_") and view[5:] in LEVELS):
        return system_views.logs(services, actor, level=view[5:] or "info")
    if view == "errors":
        return system_views.errors(services, actor)
    return Screen("This view no longer exists; try /start.")


@router.callback_query(RefreshCb.filter())
async def refresh(
    query: CallbackQuery, callback_data: RefreshCb, actor: Actor, deps: BotDeps
) -> None:
    await edit(query, await render(callback_data.view, deps.services, actor))


@router.callback_query(PageCb.filter())
async def page(query: CallbackQuery, callback_data: PageCb, actor: Actor, deps: BotDeps) -> None:
    await edit(
        query, await render(callback_data.view, deps.services, actor, max(0, callback_data.page))
    )
