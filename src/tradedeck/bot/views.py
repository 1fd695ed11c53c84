"""Screens: text and keyboard for each view, built from service calls.

A command, a menu button, a Refresh press and a page turn all render the same view, so
what a trader sees does not depend on how they got there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from tradedeck import __version__
from tradedeck.bot import keyboards
from tradedeck.bot.formatting import code, escape, money, pnl, side_label, table
from tradedeck.domain.orders import OrderStatus
from tradedeck.domain.roles import Actor, Permission
from tradedeck.exchanges.ccxt_live.models import MarketKind
from tradedeck.services import Services
from tradedeck.trading.portfolio import PositionView

PAGE_SIZE = 8


@dataclass(frozen=True, slots=True)
class Screen:
    text: str
    markup: InlineKeyboardMarkup | None = None


def balance(services: Services, actor: Actor) -> Screen:
    balances, equity = services.portfolio.balances(actor)
    rows = [
        (b.asset, money(b.free), money(b.reserved), money(equity.by_asset.get(b.asset), 6))
        for b in balances
    ]
    text = (
        f"💼 <b>Balance</b> · equity <b>{money(equity.total, 6)} {escape(equity.currency)}</b>\n"
        + table(["Asset", "Free", "Reserved", f"≈{equity.currency}"], rows)
    )
    if equity.unvalued:
        text += f"\nNo price for: {escape(', '.join(equity.unvalued))}"
    return Screen(text, keyboards.refresh("balance"))


def positions(services: Services, actor: Actor) -> Screen:
    views = services.portfolio.positions(actor)
    if not views:
        return Screen("📭 No open positions.", keyboards.refresh("positions"))
    lines = ["📊 <b>Positions</b>"]
    for p in views:
        if p.market_type is MarketKind.PERPETUAL:
            lines.append(_perpetual_position(p))
            continue
        lines.append(
            f"<b>{escape(p.symbol)}</b> {money(p.amount)} @ {money(p.average_entry)} "
            f"→ {money(p.last_price)}\n   unrealized {pnl(p.unrealized_pnl, 8, p.quote)}"
        )
    closable = [p.symbol for p in views] if actor.can(Permission.TRADE) else []
    return Screen(
        "\n".join(lines), keyboards.refresh("positions", keyboards.position_buttons(closable))
    )


def _perpetual_position(p: PositionView) -> str:
    """Short lines a phone does not wrap: which way and how leveraged first, then prices,
    PnL, and how far the mark is from liquidation."""
    terms = [f"{side_label(p.side.value)} {money(p.amount)}"]
    if p.leverage is not None:
        terms.append(f"{p.leverage}x")
    if p.margin_mode is not None:
        terms.append(escape(p.margin_mode))
    mark, mark_name = (p.mark_price, "mark") if p.mark_price is not None else (p.last_price, "last")
    if p.liquidation_price is None:
        liquidation = "none reported"
    else:
        liquidation = money(p.liquidation_price)
        if mark:
            away = abs(p.liquidation_price - mark) / mark * 100
            liquidation += f" ({away:.1f}% away)"
    return (
        f"<b>{escape(p.symbol)}</b> {' · '.join(terms)}\n"
        f"   entry {money(p.average_entry)} → {mark_name} {money(mark)}\n"
        f"   unrealized {pnl(p.unrealized_pnl, 8, p.quote)}\n"
        f"   liquidation {liquidation}"
    )


async def orders(services: Services, actor: Actor, page: int = 0) -> Screen:
    actor.require(Permission.READ)
    found = await services.repository.list_orders(
        statuses=[OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.NEW],
        limit=PAGE_SIZE + 1,
        offset=page * PAGE_SIZE,
    )
    has_more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    if not found and page == 0:
        return Screen("📭 No open orders.", keyboards.refresh("orders"))
    lines = [f"📋 <b>Open orders</b> · page {page + 1}"]
    for o in found:
        at = o.stop_price if o.price is None else o.price
        lines.append(
            f"{code(o.id[:8])} {o.side.value} {money(o.remaining)} {escape(o.symbol)} "
            f"{o.type.value.replace('_', ' ')} @ {money(at)} · {o.role.value.replace('_', ' ')}"
        )
    extra = keyboards.order_buttons([o.id for o in found]) if actor.can(Permission.TRADE) else []
    nav = keyboards.pager("orders", page, page + 2 if has_more else page + 1)
    if nav:
        extra.append(nav)
    return Screen("\n".join(lines), keyboards.refresh("orders", extra))


async def trades(services: Services, actor: Actor, count: int = 10, page: int = 0) -> Screen:
    actor.require(Permission.READ)
    fills = await services.repository.list_fills(limit=count + 1, offset=page * count)
    has_more = len(fills) > count
    fills = fills[:count]
    if not fills and page == 0:
        return Screen("📭 No trades yet.")
    rows = [
        (
            f.timestamp.strftime("%m-%d %H:%M"),
            f.side.value,
            f.symbol,
            money(f.amount),
            money(f.price),
        )
        for f in fills
    ]
    text = f"🧾 <b>Trades</b> · page {page + 1}\n" + table(
        ["Time UTC", "Side", "Market", "Amount", "Price"], rows
    )
    nav = keyboards.pager(f"trades{count}", page, page + 2 if has_more else page + 1)
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=[nav]) if nav else None)


async def pnl_view(services: Services, actor: Actor, period: str = "day") -> Screen:
    summary = await services.portfolio.summary(actor)
    days = {"day": 1, "week": 7, "month": 30}[period]
    daily = await services.portfolio.daily(actor, days)
    cur = summary.currency
    lines = [
        f"💰 <b>PnL</b> ({escape(cur)})",
        f"Today: {pnl(summary.today, 8, cur)}",
        f"Realized: {pnl(summary.realized, 8, cur)}",
        f"Unrealized: {pnl(summary.unrealized, 8, cur)}",
        f"Equity: {money(summary.equity, 6)} {escape(cur)}",
    ]
    if days > 1:
        rows = [(d.day.strftime("%m-%d"), money(d.realized, 6), str(d.fills)) for d in daily]
        lines.append(f"Last {days} days:\n" + table(["Day", "Realized", "Fills"], rows))
    return Screen("\n".join(lines), keyboards.refresh(f"pnl_{period}"))


def price(services: Services, actor: Actor, symbol: str) -> Screen:
    actor.require(Permission.READ)
    market = services.orders.market(symbol)
    candle = services.orders.exchange.last_candle(market.symbol)
    if candle is None:
        return Screen(f"No price for {escape(market.symbol)} yet.")
    change = (candle.close - candle.open) / candle.open * 100 if candle.open else 0
    return Screen(
        f"📈 <b>{escape(market.symbol)}</b> {money(candle.close)} {escape(market.quote)}\n"
        f"{candle.timeframe} candle: O {money(candle.open)} H {money(candle.high)} "
        f"L {money(candle.low)} ({change:+.2f}%)",
        keyboards.refresh(f"price_{market.symbol}"),
    )


def markets(services: Services, actor: Actor) -> Screen:
    actor.require(Permission.READ)
    rows = []
    for symbol in services.orders.exchange.markets:
        candle = services.orders.exchange.last_candle(symbol)
        rows.append((symbol, money(candle.close) if candle else "-"))
    return Screen(
        "📈 <b>Markets</b>\n" + table(["Market", "Last"], rows), keyboards.refresh("markets")
    )


def venue(services: Services) -> str:
    """Where orders go, the first thing to know before trusting any other line."""
    if services.live is None:
        return "paper exchange"
    settings = services.live.exchange.client.settings
    testnet = " testnet" if settings.testnet else ""
    return f"LIVE {settings.exchange}{testnet} {settings.market_type.value}"


async def status(services: Services, actor: Actor) -> Screen:
    actor.require(Permission.READ)
    state = services.kill_switch.state  # kept fresh by the app every two seconds
    _, equity = services.portfolio.balances(actor)
    open_orders = len(services.orders.exchange.open_orders())
    open_positions = len(services.portfolio.positions(actor))  # perpetuals: the exchange's
    uptime = timedelta(seconds=int(services.system.uptime_seconds))
    if state.active:
        since = state.changed_at.strftime("%Y-%m-%d %H:%M UTC") if state.changed_at else "?"
        kill = f"🛑 <b>ACTIVE</b> since {since} by {escape(state.actor)}: {escape(state.reason)}"
    else:
        kill = "✅ off (trading allowed)"
    text = "\n".join(
        [
            f"🖥 <b>tradedeck {__version__}</b> · {escape(venue(services))} · up {uptime}",
            f"Kill switch: {kill}",
            f"Equity: {money(equity.total, 6)} {escape(equity.currency)}",
            f"Open orders: {open_orders} · open positions: {open_positions}",
            f"Markets: {len(services.orders.exchange.markets)} · "
            f"{datetime.now(UTC).strftime('%H:%M:%S UTC')}",
        ]
    )
    extra = keyboards.system_buttons() if actor.can(Permission.VIEW_SYSTEM) else []
    if actor.can(Permission.KILL_RESUME if state.active else Permission.KILL_ACTIVATE):
        extra.append(keyboards.kill_switch_button(state.active))
    return Screen(text, keyboards.refresh("status", extra))


SHOWN_IN_LIST = 20
T = TypeVar("T")


def deletable_list(
    title: str,
    empty: str,
    items: Sequence[T],
    line: Callable[[T], str],
    button: Callable[[T], tuple[str, str]],
) -> Screen:
    """A list of the user's things (alerts, trailing stops), newest first, with a delete
    button each: ``button`` gives the label and the packed callback data of one item."""
    if not items:
        return Screen(empty)
    shown = items[:SHOWN_IN_LIST]
    lines = [title, *(line(item) for item in shown)]
    if len(items) > SHOWN_IN_LIST:
        lines.append(f"… and {len(items) - SHOWN_IN_LIST} older")
    rows = []
    for item in shown:
        label, data = button(item)
        rows.append([InlineKeyboardButton(text=label, callback_data=data)])
    return Screen("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))
