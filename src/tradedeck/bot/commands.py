"""One registry of commands drives the handlers' guards, /help and setMyCommands, so the
menu a user sees, the help text and what is actually allowed can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat

from tradedeck.domain.roles import Role

log = structlog.get_logger(__name__)

ROLE_RANK = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    description: str
    role: Role = Role.VIEWER
    private_only: bool = False
    usage: str = ""

    def allowed_for(self, role: Role) -> bool:
        return ROLE_RANK[role] >= ROLE_RANK[self.role]


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "Main menu"),
    CommandSpec("help", "What I can do for you"),
    CommandSpec("whoami", "Your name and role"),
    CommandSpec("status", "Platform status and kill switch"),
    CommandSpec("balance", "Balances and equity"),
    CommandSpec("positions", "Open positions with PnL"),
    CommandSpec("orders", "Open orders"),
    CommandSpec("trades", "Recent fills", usage="[n]"),
    CommandSpec("pnl", "Profit and loss", usage="[day|week|month]"),
    CommandSpec("price", "Last price of a market", usage="SYMBOL"),
    CommandSpec("chart", "Candle chart with indicators", usage="[SYMBOL [TIMEFRAME]]"),
    CommandSpec("scan", "Markets ranked by signal strength"),
    CommandSpec("backtest", "Backtest a strategy on a market", usage="STRATEGY SYMBOL [k=v ...]"),
    CommandSpec("buy", "Buy with preview and confirmation", Role.TRADER, True, "[SYMBOL AMOUNT]"),
    CommandSpec("sell", "Sell with preview and confirmation", Role.TRADER, True, "[SYMBOL AMOUNT]"),
    CommandSpec("close", "Close a whole position", Role.TRADER, True, "SYMBOL"),
    CommandSpec("cancel_order", "Cancel an open order", Role.TRADER, True, "ID"),
    CommandSpec("cancel", "Leave the current flow"),
    CommandSpec("kill", "Halt trading, cancel all orders", Role.TRADER, True, "[reason]"),
    CommandSpec("resume", "Resume trading after a kill", Role.ADMIN, True),
    CommandSpec("settings", "Notification settings"),
    CommandSpec("alert", "Set a price alert", usage="SYMBOL > PRICE"),
    CommandSpec("alerts", "Your price alerts"),
    CommandSpec("trail", "Trailing stop on a position", Role.TRADER, True, "SYMBOL N% [AMOUNT]"),
    CommandSpec("trails", "Your trailing stops", Role.TRADER),
    CommandSpec("health", "Health checks and resources", Role.ADMIN),
    CommandSpec("logs", "Recent log lines", Role.ADMIN, usage="[N] [LEVEL]"),
    CommandSpec("errors", "Errors, grouped by kind", Role.ADMIN, usage="[HOURS]"),
)
BY_NAME = {spec.name: spec for spec in COMMANDS}


def commands_for(role: Role) -> list[CommandSpec]:
    return [spec for spec in COMMANDS if spec.allowed_for(role)]


def menu(role: Role) -> list[BotCommand]:
    return [BotCommand(command=c.name, description=c.description) for c in commands_for(role)]


async def set_chat_commands(bot: Bot, chat_id: int, role: Role) -> None:
    """A user's own command menu. Telegram refuses it until they have started the bot,
    so /start sets it again and a refusal here is expected, not an error."""
    try:
        await bot.set_my_commands(menu(role), scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramAPIError as error:
        log.debug("chat_commands_not_set", chat_id=chat_id, error=str(error))
