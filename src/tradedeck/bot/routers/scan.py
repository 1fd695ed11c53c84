"""/scan: the latest market scan as a ranked table, a page at a time.

Each page has one button per market that opens its chart (the charts router answers
``ChartOpen``), Previous/Next buttons and a Refresh that re-reads the latest scan. The
table comes from the stored scan, so every user and every press sees the same ranking.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message

from tradedeck.bot import keyboards
from tradedeck.bot.callbacks import ChartOpen, PageCb, RefreshCb
from tradedeck.bot.context import BotDeps
from tradedeck.bot.formatting import escape, money, table
from tradedeck.bot.replies import edit, send
from tradedeck.bot.routing import Routes
from tradedeck.bot.views import Screen
from tradedeck.domain.money import from_float
from tradedeck.domain.roles import Actor
from tradedeck.services import Services
from tradedeck.storage.scans import ScanResult

router = Routes("scan")
VIEW = "scan"
PAGE_SIZE = 8
CHART_BUTTONS_PER_ROW = 2
MAX_CALLBACK_BYTES = 64
REASON_CHARS = 80


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _signal(result: ScanResult) -> str:
    if result.failed:
        return "fail"
    return {"buy": "buy", "sell": "sell"}.get(result.signal, "-")


def _row(rank: int, result: ScanResult) -> tuple[str, ...]:
    return (
        f"{rank} {result.symbol}",
        result.timeframe,
        _signal(result),
        "-" if result.failed else f"{result.score:+.2f}",
        "-" if result.last_close is None else money(from_float(result.last_close), 8),
        _number(result.indicators.get("rsi"), ".0f"),
    )


def _chart_button(result: ScanResult) -> InlineKeyboardButton | None:
    try:
        data = ChartOpen(symbol=result.symbol, timeframe=result.timeframe).pack()
    except ValueError:  # a symbol with the separator in it cannot travel in a button
        return None
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    return InlineKeyboardButton(text=f"📈 {result.symbol} {result.timeframe}", callback_data=data)


async def scan_screen(services: Services, actor: Actor, page: int = 0) -> Screen:
    latest = await services.scanner.latest(actor)
    if latest.run is None:
        return Screen(
            "🔎 No scan yet. The scanner runs every "
            f"{services.settings.scan_interval_seconds:g} s; try again shortly.",
            keyboards.refresh(f"{VIEW}_0"),
        )
    results = latest.results
    pages = max(1, -(-len(results) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    start = page * PAGE_SIZE
    shown = results[start : start + PAGE_SIZE]
    run = latest.run
    lines = [
        f"🔎 <b>Market scan</b> #{run.id} · {run.started_at:%H:%M:%S} UTC · "
        f"page {page + 1}/{pages}",
        f"{latest.markets} markets · {latest.failures} failed · strong at ±"
        f"{services.scanner.config.strong:g}",
        table(
            ["Market", "TF", "Signal", "Score", "Last", "RSI"],
            [_row(start + i, r) for i, r in enumerate(shown, start=1)],
        ),
    ]
    for result in shown:
        if result.failed:
            reason = (result.error or "")[:REASON_CHARS]
            lines.append(f"⚠️ {escape(result.symbol)} {escape(result.timeframe)}: {escape(reason)}")
    buttons = [b for b in (_chart_button(r) for r in shown if not r.failed) if b is not None]
    extra = keyboards.rows(buttons, CHART_BUTTONS_PER_ROW)
    nav = keyboards.pager(VIEW, page, pages)
    if nav:
        extra.append(nav)
    return Screen("\n".join(lines), keyboards.refresh(f"{VIEW}_{page}", extra))


@router.message(Command("scan"), flags={"command": "scan"})
async def scan(message: Message, actor: Actor, deps: BotDeps) -> None:
    await send(message, await scan_screen(deps.services, actor))


@router.callback_query(PageCb.filter(F.view == VIEW), flags={"command": "scan"})
async def page(query: CallbackQuery, callback_data: PageCb, actor: Actor, deps: BotDeps) -> None:
    await edit(query, await scan_screen(deps.services, actor, callback_data.page))


@router.callback_query(RefreshCb.filter(F.view.startswith(f"{VIEW}_")), flags={"command": "scan"})
async def refresh(
    query: CallbackQuery, callback_data: RefreshCb, actor: Actor, deps: BotDeps
) -> None:
    number = callback_data.view.removeprefix(f"{VIEW}_")
    await edit(
        query,
        await scan_screen(deps.services, actor, int(number) if number.isdigit() else 0),
    )
