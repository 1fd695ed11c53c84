"""/alert and /alerts: set a price alert, list yours, delete one with its button.

The delete button carries only the alert's id (typed ``AlertDeleteCb``); the service
checks that the alert is the presser's own, so a forged id reaches nothing.
"""

from __future__ import annotations

from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from tradedeck.alerts.rules import USAGE, PriceAlert, parse_expression
from tradedeck.bot.callbacks import AlertDeleteCb
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape, money
from tradedeck.bot.replies import edit, refusal, send
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen, deletable_list
from tradedeck.domain.errors import DomainError
from tradedeck.domain.roles import Actor
from tradedeck.services import Services

router = Routes("alerts")


def _line(alert: PriceAlert) -> str:
    text = (
        f"#{alert.id} <b>{escape(alert.symbol)}</b> {escape(alert.op.value)} {money(alert.price)}"
    )
    if alert.triggered_at is None:
        return f"⏳ {text}"
    return (
        f"✅ {text} · fired at {money(alert.triggered_price)} {alert.triggered_at:%m-%d %H:%M} UTC"
    )


async def alerts_screen(services: Services, actor: Actor) -> Screen:
    return deletable_list(
        "🔔 <b>Your price alerts</b>",
        f"🔔 No price alerts. {escape(USAGE[0].upper() + USAGE[1:])}",
        await services.alerts.list_alerts(actor),
        _line,
        lambda a: (
            f"🗑 Delete #{a.id} {a.symbol} {a.op.value} {money(a.price)}",
            AlertDeleteCb(alert_id=a.id).pack(),
        ),
    )


@router.message(Command("alert"), flags={"command": "alert"})
async def alert(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    try:
        created = await deps.services.alerts.create(actor, parse_expression(command.args or ""))
    except DomainError as error:
        await message.answer(refusal(error))
        return
    await message.answer(
        f"🔔 Alert #{created.id} set: <b>{escape(created.symbol)}</b> "
        f"{escape(created.op.value)} {money(created.price)}. I will tell you once. /alerts"
    )


@router.message(Command("alerts"), flags={"command": "alerts"})
async def alerts(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, await alerts_screen(deps.services, actor))


# No confirmation step: deleting changes state, but only the presser's own alert (the
# service refuses anyone else's), nothing is traded, and an alert deleted by mistake is
# set again with one command. A confirmation would cost more than the mistake.
@router.callback_query(AlertDeleteCb.filter(), flags={"command": "alerts"})
async def delete(
    query: CallbackQuery, callback_data: AlertDeleteCb, actor: Actor, deps: BotDeps
) -> None:
    try:
        await deps.services.alerts.delete(actor, callback_data.alert_id)
    except DomainError as error:
        await query.answer(error.detail, show_alert=True)
        return
    await edit(query, await alerts_screen(deps.services, actor))
