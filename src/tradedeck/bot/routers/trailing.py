"""/trail and /trails: set a trailing stop on a position, list yours, delete one with its
button.

Setting one asks for no confirmation: nothing is traded then, the reply shows the price at
which it would sell, and a stop set by mistake is deleted with one press. The delete
button carries only the stop's id (typed ``TrailDeleteCb``); the service checks that the
stop is the presser's own, so a forged id reaches nothing.
"""

from __future__ import annotations

from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from tradedeck.bot.callbacks import TrailDeleteCb
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import code, escape, money
from tradedeck.bot.replies import edit, refusal, send
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen, deletable_list
from tradedeck.domain.errors import DomainError
from tradedeck.domain.money import fmt
from tradedeck.domain.roles import Actor
from tradedeck.services import Services
from tradedeck.trading.trailing_rules import (
    USAGE,
    Guards,
    TrailingStop,
    extreme_name,
    parse_command,
)

router = Routes("trailing")


def _what(stop: TrailingStop) -> str:
    amount = "the whole position" if stop.amount is None else money(stop.amount)
    return f"#{stop.id} <b>{escape(stop.symbol)}</b> {fmt(stop.trail_percent)}% · {amount}"


def _line(stop: TrailingStop) -> str:
    short = stop.guards is Guards.SHORT
    if stop.triggered_at is None:
        action = "buys back at" if short else "sells at"
        return (
            f"⏳ {_what(stop)} · {extreme_name(stop.guards)} {money(stop.peak)} · "
            f"{action} {money(stop.level)}"
        )
    hit = f"hit {money(stop.trigger_price)} {stop.triggered_at:%m-%d %H:%M} UTC"
    done = "bought back" if short else "sold"
    if stop.order_id is not None:
        return f"✅ {_what(stop)} · {hit} · {done}, order {code(stop.order_id[:8])}"
    if stop.reason is not None:
        return f"⛔ {_what(stop)} · {hit} · not {done}: {escape(stop.reason)}"
    return f"⌛ {_what(stop)} · {hit} · {'buying back' if short else 'selling'}"


async def trails_screen(services: Services, actor: Actor) -> Screen:
    return deletable_list(
        "📉 <b>Your trailing stops</b>",
        f"📉 No trailing stops. {escape(USAGE[0].upper() + USAGE[1:])}",
        await services.trailing.list_stops(actor),
        _line,
        lambda s: (
            f"🗑 Delete #{s.id} {s.symbol} {fmt(s.trail_percent)}%",
            TrailDeleteCb(stop_id=s.id).pack(),
        ),
    )


@router.message(Command("trail"), flags={"command": "trail"})
async def trail(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    try:
        created = await deps.services.trailing.create(actor, parse_command(command.args or ""))
    except DomainError as error:
        await message.answer(refusal(error))
        return
    if created.guards is Guards.SHORT:
        how = (
            f"Low {money(created.peak)} · buys back at market at or above "
            f"{money(created.level)}; the level falls with the price."
        )
    else:
        how = (
            f"Peak {money(created.peak)} · sells at market at or below "
            f"{money(created.level)}; the level rises with the price."
        )
    await message.answer(
        f"📉 Trailing stop {_what(created)} set on the {created.guards.value}.\n{how} /trails"
    )


@router.message(Command("trails"), flags={"command": "trails"})
async def trails(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, await trails_screen(deps.services, actor))


@router.callback_query(TrailDeleteCb.filter(), flags={"command": "trails"})
async def delete(
    query: CallbackQuery, callback_data: TrailDeleteCb, actor: Actor, deps: BotDeps
) -> None:
    try:
        await deps.services.trailing.delete(actor, callback_data.stop_id)
    except DomainError as error:
        await query.answer(error.detail, show_alert=True)
        return
    await edit(query, await trails_screen(deps.services, actor))
