"""/backtest STRATEGY SYMBOL [k=v ...]: a backtest on the market's stored candles.

The reply says "running…" at once, then turns into the result card (the figures in a
<pre> table) and the equity curve follows as a photo. The run itself is the backtest
service's background job, the same one ``POST /api/v1/backtests`` queues.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from tradedeck.backtest.inputs import make_request, normalize_symbol_text, parse_params
from tradedeck.backtest.report import BacktestResult
from tradedeck.backtest.service import BacktestStatus
from tradedeck.backtest.summary import summary_rows
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape, table
from tradedeck.bot.replies import refusal
from tradedeck.bot.routing import Routes
from tradedeck.domain.errors import DomainError
from tradedeck.domain.roles import Actor

router = Routes("backtest")
USAGE = (
    "Usage: /backtest STRATEGY SYMBOL [name=value ...], e.g. "
    "<code>/backtest sma_cross BTC/USDT fast=10 slow=30</code>"
)
WAIT_SECONDS = 300.0


def result_card(result: BacktestResult) -> str:
    lines = [
        f"📊 <b>Backtest {escape(result.strategy)}</b> · {escape(result.symbol)} · "
        f"{escape(result.timeframe)}",
        f"{result.candles:,} candles, {result.start:%Y-%m-%d %H:%M} to "
        f"{result.end:%Y-%m-%d %H:%M} UTC",
    ]
    params = ", ".join(f"{k}={v}" for k, v in result.params.items() if v is not None)
    if params:
        lines.append(f"<i>{escape(params)}</i>")
    lines.append(table(["Metric", "Value"], summary_rows(result)))
    return "\n".join(lines)


@router.message(Command("backtest"), flags={"command": "backtest"})
async def backtest(message: Message, command: CommandObject, actor: Actor, deps: BotDeps) -> None:
    args = (command.args or "").split()
    if len(args) < 2:
        await message.answer(USAGE)
        return
    name, symbol, *pairs = args
    backtests = deps.services.backtests
    try:
        request = make_request(
            strategy=name, symbol=normalize_symbol_text(symbol), params=parse_params(pairs)
        )
        job = await backtests.submit(actor, request)
    except DomainError as error:
        await message.answer(refusal(error))
        return
    status = await message.answer(
        f"⏳ Backtest of <b>{escape(request.strategy)}</b> on {escape(request.symbol)} running…"
    )
    deps.spawn(_report(message, status, actor, deps, job.id), name=f"backtest-reply-{job.id}")


async def _report(
    message: Message, status: Message, actor: Actor, deps: BotDeps, job_id: str
) -> None:
    """Wait for the job off the handler, then edit the card in and send the equity chart."""
    backtests = deps.services.backtests
    try:
        done = await asyncio.wait_for(backtests.wait(actor, job_id), WAIT_SECONDS)
    except TimeoutError:
        await status.edit_text(
            f"⏳ Still running; <code>GET /api/v1/backtests/{escape(job_id)}</code> has it."
        )
        return
    if done.status is not BacktestStatus.DONE or done.result is None:
        detail = done.error.detail if done.error is not None else done.status.value
        await status.edit_text(f"❌ Backtest failed: {escape(detail)}")
        return
    result = done.result
    await status.edit_text(result_card(result))
    if message.bot is not None:
        with contextlib.suppress(TelegramBadRequest):
            await message.bot.send_chat_action(message.chat.id, "upload_photo")
    try:
        png = await deps.services.charts.equity(
            [p.time for p in result.equity],
            [p.equity for p in result.equity],
            title=f"{result.strategy} · {result.symbol} · {result.timeframe}",
        )
    except DomainError as error:
        await message.answer(refusal(error))
        return
    name_part = result.symbol.replace("/", "-")
    await message.answer_photo(
        BufferedInputFile(png, filename=f"backtest-{result.strategy}-{name_part}.png"),
        caption=f"📈 Equity of <b>{escape(result.strategy)}</b> on {escape(result.symbol)}",
    )
