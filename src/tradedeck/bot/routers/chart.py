"""/chart: a candle chart as a photo, with buttons to switch timeframe and refresh.

A timeframe or Refresh button replaces the photo in place (editMessageMedia), so a chat
holds one chart per request instead of a stack of them. Any button with a ``ChartOpen``
(the market picker here, the /scan results elsewhere) opens a chart the same way.
"""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)

from tradedeck.bot import keyboards
from tradedeck.bot.callbacks import ChartOpen
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape, money
from tradedeck.bot.replies import refusal
from tradedeck.bot.routing import Routes
from tradedeck.charts.service import ChartImage, ChartService, ChartSummary
from tradedeck.domain.candles import TIMEFRAME_SECONDS
from tradedeck.domain.errors import DomainError
from tradedeck.domain.roles import Actor
from tradedeck.services import Services

router = Routes("chart")
USAGE = "Usage: /chart SYMBOL [TIMEFRAME], e.g. <code>/chart ETH/BTC 1h</code>"
# Offered after the recorded timeframe, the first few that the market can be charted in.
PREFERRED = ("5m", "15m", "1h", "4h", "1d", "1w")
TIMEFRAME_BUTTONS = 4
TOAST_LIMIT = 200


def caption(summary: ChartSummary) -> str:
    """Last price, change over the chart, SMAs and RSI: the numbers on the photo."""
    change = summary.change_pct
    mark = "🟢" if change > 0 else "🔴" if change < 0 else "⚪"
    lines = [
        f"📈 <b>{escape(summary.symbol)}</b> · {escape(summary.timeframe)} · "
        f"{summary.candles} candles",
        f"Last <b>{money(summary.last)}</b> {escape(summary.quote)} · {mark} {change:+.2f} % "
        f"over the chart",
    ]
    averages = [f"SMA{period} {money(value)}" for period, value in summary.sma]
    if averages:
        lines.append(" · ".join(averages))
    if summary.rsi_period is not None:
        rsi = summary.rsi
        zone = ""
        if rsi is not None and rsi >= 70:
            zone = " (overbought)"
        elif rsi is not None and rsi <= 30:
            zone = " (oversold)"
        lines.append(f"RSI{summary.rsi_period} {'-' if rsi is None else rsi}{zone}")
    lines.append(f"<i>last candle {summary.opened_at:%Y-%m-%d %H:%M} UTC</i>")
    return "\n".join(lines)


def timeframe_choices(usable: list[str], current: str) -> list[str]:
    """The recorded timeframe, then preferred larger ones; the current one always shown."""
    choices = [usable[0], *[tf for tf in PREFERRED if tf in usable[1:]]][:TIMEFRAME_BUTTONS]
    if current not in choices:
        chosen = {*choices[: TIMEFRAME_BUTTONS - 1], current}
        choices = sorted(chosen, key=lambda tf: TIMEFRAME_SECONDS[tf])
    return choices


def chart_keyboard(charts: ChartService, summary: ChartSummary) -> InlineKeyboardMarkup:
    symbol, current = summary.symbol, summary.timeframe
    row = [
        InlineKeyboardButton(
            text=f"• {tf} •" if tf == current else tf,
            callback_data=ChartOpen(symbol=symbol, timeframe=tf).pack(),
        )
        for tf in timeframe_choices(charts.timeframes(symbol), current)
    ]
    refresh = InlineKeyboardButton(
        text="🔄 Refresh", callback_data=ChartOpen(symbol=symbol, timeframe=current).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[row, [refresh]])


def markets_keyboard(services: Services) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=symbol,
            callback_data=ChartOpen(
                symbol=symbol, timeframe=services.charts.native_timeframe(symbol)
            ).pack(),
        )
        for symbol in services.orders.exchange.markets
    ]
    return InlineKeyboardMarkup(inline_keyboard=keyboards.rows(buttons, 3))


def _photo(image: ChartImage) -> BufferedInputFile:
    name = f"{image.summary.symbol.replace('/', '-')}-{image.summary.timeframe}.png"
    return BufferedInputFile(image.png, filename=name)


@router.message(Command("chart"), flags={"command": "chart"})
async def chart(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    args = (command.args or "").split()
    if not args:
        await message.answer("📈 <b>Which chart?</b>", reply_markup=markets_keyboard(deps.services))
        return
    if len(args) > 2:
        await message.answer(USAGE)
        return
    symbol = args[0].replace("-", "/").replace("_", "/")
    timeframe = args[1].lower() if len(args) == 2 else None
    if message.bot is not None:
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.send_chat_action(message.chat.id, "upload_photo")
    charts = deps.services.charts
    try:
        image = await charts.candles(actor, symbol, timeframe)
    except DomainError as error:
        await message.answer(refusal(error))
        return
    await message.answer_photo(
        _photo(image),
        caption=caption(image.summary),
        reply_markup=chart_keyboard(charts, image.summary),
    )


@router.callback_query(ChartOpen.filter(), flags={"command": "chart"})
async def open_chart(
    query: CallbackQuery, callback_data: ChartOpen, actor: Actor, deps: BotDeps
) -> None:
    charts = deps.services.charts
    try:
        image = await charts.candles(actor, callback_data.symbol, callback_data.timeframe)
    except DomainError as error:
        with contextlib.suppress(TelegramBadRequest):
            await query.answer(f"❌ {error.detail}"[:TOAST_LIMIT], show_alert=True)
        return
    text, markup = caption(image.summary), chart_keyboard(charts, image.summary)
    message = query.message
    if isinstance(message, Message) and message.photo:
        try:
            await message.edit_media(
                InputMediaPhoto(media=_photo(image), caption=text), reply_markup=markup
            )
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                raise
    elif isinstance(message, Message):
        await message.answer_photo(_photo(image), caption=text, reply_markup=markup)
    elif query.bot is not None:
        chat_id = message.chat.id if message is not None else query.from_user.id
        await query.bot.send_photo(chat_id, _photo(image), caption=text, reply_markup=markup)
    with contextlib.suppress(TelegramBadRequest):  # a press too old to answer is harmless
        await query.answer()
