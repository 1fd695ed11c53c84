"""Trading: /buy and /sell (a flow or one line), /close, /cancel_order, /cancel, and the
Confirm/Cancel buttons that execute every dangerous action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from tradedeck.bot import keyboards
from tradedeck.bot.callbacks import (
    AmountCb,
    CancelOrderCb,
    ClosePositionCb,
    FlowCancelCb,
    PickSymbolCb,
)
from tradedeck.bot.confirm import ask, done_text, refusal_text
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import code, escape, money
from tradedeck.bot.replies import refusal
from tradedeck.bot.routing import Routes
from tradedeck.bot.states import TradeFlow
from tradedeck.domain.errors import DomainError, InvalidInput
from tradedeck.domain.orders import Order, OrderStatus, OrderType, Side
from tradedeck.domain.roles import Actor
from tradedeck.security.confirmations import ConfirmationError, PendingAction
from tradedeck.trading.requests import OrderRequest

router = Routes("trade")
TRADER_PRIVATE = {"role": "trader", "private": True}


# -- leaving a flow ------------------------------------------------------------------------
@router.message(Command("cancel"), flags={"command": "cancel"})
async def cancel_flow(message: Message, state: FSMContext) -> None:
    had = await state.get_state()
    await state.clear()
    await message.answer("✖ Cancelled." if had else "Nothing to cancel.")


@router.callback_query(FlowCancelCb.filter())
async def cancel_flow_button(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    if isinstance(query.message, Message):
        await query.message.edit_text("✖ Cancelled.")
    await query.answer()


# -- /buy and /sell ----------------------------------------------------------------------
@router.message(Command("buy", "sell"), flags={"command": "buy"})
async def start_trade(
    message: Message, command: CommandObject, actor: Actor, deps: BotDeps, state: FSMContext
) -> None:
    side = Side(command.command.lower())
    if command.args:
        parts = command.args.split()
        if len(parts) != 2:
            await message.answer(
                f"Usage: /{side.value} SYMBOL AMOUNT, e.g. /{side.value} ETH/BTC 0.5"
            )
            return
        await state.clear()
        await preview_trade(message, actor, deps, side, parts[0], parts[1])
        return
    await state.set_state(TradeFlow.symbol)
    await state.update_data(side=side.value)
    names = list(deps.services.orders.exchange.markets)
    await message.answer(
        f"{'🟢 Buy' if side is Side.BUY else '🔴 Sell'}: which market?",
        reply_markup=keyboards.symbols(side.value, names),
    )


@router.callback_query(PickSymbolCb.filter(), flags=TRADER_PRIVATE)
async def pick_symbol(
    query: CallbackQuery, callback_data: PickSymbolCb, deps: BotDeps, state: FSMContext
) -> None:
    try:
        market = deps.services.orders.market(callback_data.symbol)
    except DomainError as error:
        await query.answer(error.detail, show_alert=True)
        return
    side = Side(callback_data.side)
    await state.set_state(TradeFlow.amount)
    await state.update_data(side=side.value, symbol=market.symbol)
    pays = market.quote if side is Side.BUY else market.base
    if isinstance(query.message, Message):
        await query.message.edit_text(
            f"How much {escape(market.base)} to {side.value} on {escape(market.symbol)}? "
            f"Type an amount, or pick a share of your free {escape(pays)}.",
            reply_markup=keyboards.amounts(),
        )
    await query.answer()


@router.message(TradeFlow.amount, F.text, flags=TRADER_PRIVATE)
async def typed_amount(message: Message, actor: Actor, deps: BotDeps, state: FSMContext) -> None:
    data = await state.get_data()
    text = (message.text or "").strip()
    if text.startswith("/"):
        await message.answer("Finish this trade first, or /cancel it.")
        return
    if await preview_trade(message, actor, deps, Side(data["side"]), data["symbol"], text):
        await state.clear()


@router.message(TradeFlow.symbol, F.text, ~F.text.startswith("/"), flags=TRADER_PRIVATE)
async def typed_symbol(message: Message, deps: BotDeps, state: FSMContext) -> None:
    try:
        market = deps.services.orders.market(message.text or "")
    except DomainError as error:
        await message.answer(refusal(error) + "\nPick a market from the buttons, or /cancel.")
        return
    data = await state.get_data()
    await state.set_state(TradeFlow.amount)
    await state.update_data(symbol=market.symbol)
    await message.answer(
        f"How much {escape(market.base)} to {data['side']}? Type an amount or pick a share.",
        reply_markup=keyboards.amounts(),
    )


@router.callback_query(AmountCb.filter(), TradeFlow.amount, flags=TRADER_PRIVATE)
async def picked_amount(
    query: CallbackQuery, callback_data: AmountCb, actor: Actor, deps: BotDeps, state: FSMContext
) -> None:
    data = await state.get_data()
    side, symbol = Side(data["side"]), data["symbol"]
    amount = deps.services.orders.amount_for_share(side, symbol, Decimal(callback_data.percent))
    if amount <= 0:
        await query.answer(
            "That share is less than the smallest amount you can trade.", show_alert=True
        )
        return
    await state.clear()
    await preview_trade(query, actor, deps, side, symbol, str(amount))


async def preview_trade(
    target: Message | CallbackQuery,
    actor: Actor,
    deps: BotDeps,
    side: Side,
    symbol: str,
    amount_text: str,
    kind: str | None = None,
) -> bool:
    """Show price, fees and the risk verdict; ask for confirmation if it would pass.

    Returns False when the input itself was wrong (the flow stays open to retype).
    """
    reply = target.answer if isinstance(target, Message) else _alert(target)
    try:
        amount = Decimal(amount_text.replace(",", "."))
        if not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        await reply(f"❌ {escape(amount_text)} is not an amount. Type a number like 0.5.")
        return False
    request = OrderRequest(symbol, side, OrderType.MARKET, amount, source="telegram")
    try:
        preview = deps.services.orders.preview(actor, request)
    except DomainError as error:
        await reply(refusal(error))
        return not isinstance(error, InvalidInput)
    m = preview.market
    icon = "🟢 Buy" if side is Side.BUY else "🔴 Sell"
    lines = [
        f"{icon} <b>{money(amount)} {escape(m.base)}</b> on {escape(m.symbol)} at market",
        f"Price ≈ {money(preview.price)} {escape(m.quote)}",
        f"Value ≈ {money(preview.notional)} {escape(m.quote)}"
        f" · fee ≈ {money(preview.fee)} {escape(m.quote)}",
    ]
    if kind == "close":
        lines.insert(1, f"Closes the whole {'short' if side is Side.BUY else 'long'} position")
    if not preview.ok:
        assert preview.verdict is not None
        lines.append(f"Risk check: ❌ {escape(preview.verdict.detail)}")
        text = "\n".join(lines)
        if isinstance(target, CallbackQuery) and isinstance(target.message, Message):
            await target.message.edit_text(text)
            await target.answer()
        else:
            await reply(text)
        return True
    lines.append("Risk check: ✅ passes")
    assert target.from_user is not None
    await ask(
        target,
        deps,
        target.from_user.id,
        kind or side.value,
        {"symbol": m.symbol, "side": side.value, "amount": str(amount)},
        "\n".join(lines),
    )
    return True


def _alert(query: CallbackQuery) -> Callable[[str], Awaitable[Any]]:
    """Answer in the chat of a pressed button, and stop the button's spinner."""

    async def answer(text: str) -> None:
        if isinstance(query.message, Message):
            await query.message.answer(text)
        await query.answer()

    return answer


# -- /close and /cancel_order -----------------------------------------------------------------
@router.message(Command("close"), flags={"command": "close"})
async def close(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    if not command.args:
        await message.answer("Usage: /close SYMBOL, e.g. <code>/close ETH/BTC</code>")
        return
    await ask_close(message, actor, deps, command.args.strip())


@router.callback_query(ClosePositionCb.filter(), flags=TRADER_PRIVATE)
async def close_button(
    query: CallbackQuery, callback_data: ClosePositionCb, actor: Actor, deps: BotDeps
) -> None:
    await ask_close(query, actor, deps, callback_data.symbol)


async def ask_close(
    target: Message | CallbackQuery, actor: Actor, deps: BotDeps, symbol: str
) -> None:
    """Preview selling (or, for a short, buying back) the whole position at market."""
    reply = target.answer if isinstance(target, Message) else _alert(target)
    try:
        market = deps.services.orders.market(symbol)
    except DomainError as error:
        await reply(refusal(error))
        return
    side, amount = deps.services.orders.closing(market.symbol)
    if amount <= 0:
        await reply(f"No open {escape(market.symbol)} position to close.")
        return
    await preview_trade(target, actor, deps, side, market.symbol, str(amount), kind="close")


@router.message(Command("cancel_order"), flags={"command": "cancel_order"})
async def cancel_order(message: Message, command: CommandObject, deps: BotDeps) -> None:
    wanted = (command.args or "").strip()
    if not wanted:
        await message.answer("Usage: /cancel_order ID (the first 8 characters are enough)")
        return
    await ask_cancel(message, deps, wanted)


@router.callback_query(CancelOrderCb.filter(), flags=TRADER_PRIVATE)
async def cancel_order_button(
    query: CallbackQuery, callback_data: CancelOrderCb, deps: BotDeps
) -> None:
    await ask_cancel(query, deps, callback_data.order_id)


async def ask_cancel(target: Message | CallbackQuery, deps: BotDeps, wanted: str) -> None:
    matches = [o for o in deps.services.orders.exchange.open_orders() if o.id.startswith(wanted)]
    if len(matches) != 1:
        text = "No open order with that id." if not matches else "That id matches several orders."
        if isinstance(target, CallbackQuery):
            await target.answer(text, show_alert=True)
        else:
            await target.answer(text)
        return
    order = matches[0]
    assert target.from_user is not None
    preview = (
        f"✖ Cancel order {code(order.id[:8])}: {order.side.value} {money(order.remaining)} "
        f"{escape(order.symbol)} {order.type.value.replace('_', ' ')}"
    )
    await ask(target, deps, target.from_user.id, "cancel_order", {"order_id": order.id}, preview)


# -- the Confirm / Cancel buttons --------------------------------------------------------------
@router.callback_query(F.data.startswith("cf:"), flags={"private": True})
async def confirmation(query: CallbackQuery, actor: Actor, deps: BotDeps) -> None:
    parsed = deps.confirmations.parse_callback(query.data or "")
    if parsed is None:
        await query.answer(refusal_text("forged"), show_alert=True)
        return
    verb, action_id, signature = parsed
    try:
        if verb == "no":
            await deps.confirmations.cancel(query.from_user.id, action_id, signature)
            if isinstance(query.message, Message):
                await query.message.edit_text("✖ Cancelled.")
            await query.answer()
            return
        action = await deps.confirmations.consume(query.from_user.id, action_id, signature)
    except ConfirmationError as error:
        await query.answer(refusal_text(error.code), show_alert=True)
        return
    outcome = await execute(action, actor, deps)
    if isinstance(query.message, Message):
        await query.message.edit_text(done_text(action.summary, outcome))
    await query.answer()


async def execute(action: PendingAction, actor: Actor, deps: BotDeps) -> str:
    services = deps.services
    try:
        if action.kind in ("buy", "sell", "close"):
            decision = await deps.limiter.hit(
                f"trade:{actor.name}", deps.settings.trades_per_minute, 60.0
            )
            if not decision.allowed:
                limit = f"{deps.settings.trades_per_minute} trades a minute"
                await deps.report_rate_limited(actor, limit)
                return f"⏳ Trade limit reached; try again in {decision.retry_after:.0f} s."
            side = Side(action.params["side"])  # a close buys back a perpetual short
            request = OrderRequest(
                action.params["symbol"],
                side,
                OrderType.MARKET,
                Decimal(action.params["amount"]),
                source="telegram",
            )
            order, _ = await services.orders.place(actor, request)
            return describe_order(order)
        if action.kind == "cancel_order":
            order = await services.orders.cancel(actor, action.params["order_id"])
            return f"✖ Order {code(order.id[:8])} canceled."
        if action.kind == "kill":
            _, canceled = await services.kill_switch.activate(actor, action.params["reason"])
            return f"🛑 <b>Kill switch activated.</b> {canceled} open orders canceled."
        if action.kind == "resume":
            await services.kill_switch.resume(actor)
            return "✅ <b>Trading resumed.</b>"
    except DomainError as error:
        return refusal(error)
    return "⛔ Unknown action; nothing was done."


def describe_order(order: Order) -> str:
    if order.status is OrderStatus.FILLED:
        return (
            f"✅ <b>Filled</b> {order.side.value} {money(order.filled)} {escape(order.symbol)} "
            f"@ {money(order.average_price)} · fee {money(order.fee)} "
            f"{escape(order.fee_currency or '')} · order {code(order.id[:8])}"
        )
    return (
        f"📝 Order {code(order.id[:8])} is {order.status.value.replace('_', ' ')}: "
        f"{money(order.filled)} of {money(order.amount)} filled."
    )
