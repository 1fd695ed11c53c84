"""Periodic reports: an hourly balance report and a daily PnL summary, each sent only to
the users who switched it on in /settings (both are off by default).

A scheduler job checks every minute whether an hour or a UTC day has ended since the last
report, so a report comes out at the turn of the hour (or of the day, at 00:00 UTC, for
the day that ended) whatever the job's drift, and a restart neither repeats nor skips
one: the last period reported is kept in the database, written before the reports go
out (a crash in between loses one report rather than sending it twice). A fresh
database reports from the next turn on, not for the past.

Users' choices live next to their notification levels (groups ``report.hourly`` and
``report.daily``, level ``on``/``off``), so one table holds everything /settings sets.
The figures come from the portfolio service; the platform has one paper account, so
every subscriber reads the same numbers. Reports travel the notification pipeline as
``EventType.REPORT`` addressed to one user.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import structlog

from tradedeck.domain.balances import Balance
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.money import fmt
from tradedeck.domain.roles import SYSTEM, Actor, Permission
from tradedeck.notify.events import Event, EventBus, EventType
from tradedeck.notify.text import escape
from tradedeck.storage.repository import Repository
from tradedeck.trading.portfolio import DailyPnl, PortfolioService
from tradedeck.trading.valuation import Equity

log = structlog.get_logger(__name__)

REPORTS: dict[str, str] = {
    "hourly": "Hourly balance report",
    "daily": "Daily PnL summary",
}
"""Report kinds a user can switch on, with the label the /settings screen shows."""

ON, OFF = "on", "off"
CHECK_SECONDS = 60.0
_SENT_KEY = "reports.{kind}.last"


def report_group(kind: str) -> str:
    """Where a user's choice for ``kind`` is stored among their notification levels."""
    return f"report.{kind}"


class ReportService:
    def __init__(
        self,
        repository: Repository,
        portfolio: PortfolioService,
        bus: EventBus,
        *,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._repo = repository
        self._portfolio = portfolio
        self._bus = bus
        self._today = today  # the portfolio's own "today", to reach a past day's figures

    # -- choices -----------------------------------------------------------------------
    async def choices(self, actor: Actor) -> dict[str, bool]:
        """Which reports the actor receives (off unless switched on)."""
        actor.require(Permission.READ)
        levels = await self._repo.notification_levels(_user(actor))
        return {kind: levels.get(report_group(kind)) == ON for kind in REPORTS}

    async def choose(self, actor: Actor, kind: str, on: bool) -> dict[str, bool]:
        actor.require(Permission.READ)
        if kind not in REPORTS:
            raise InvalidInput("unknown_report", f"no report {kind!r}; one of {', '.join(REPORTS)}")
        await self._repo.set_notification_level(_user(actor), report_group(kind), ON if on else OFF)
        return await self.choices(actor)

    # -- the job -----------------------------------------------------------------------
    async def run(self, now: datetime | None = None) -> int:
        """Send whichever reports are due at ``now``; returns how many messages went out."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        sent = 0
        hour = now.replace(minute=0, second=0, microsecond=0)
        if await self._due("hourly", hour.isoformat()):
            sent += await self.send_hourly(hour)
        ended = now.date() - timedelta(days=1)
        if await self._due("daily", ended.isoformat()):
            sent += await self.send_daily(ended)
        return sent

    async def _due(self, kind: str, period: str) -> bool:
        """Whether ``period`` is newer than the last one reported; records it if so."""
        key = _SENT_KEY.format(kind=kind)
        last = await self._repo.get_setting(key)
        if last is not None and last >= period:  # ISO strings sort as the times they name
            return False
        await self._repo.set_setting(key, period, "reports")
        return last is not None  # a first start only marks where reports begin

    async def send_hourly(self, at: datetime) -> int:
        balances, equity = self._portfolio.balances(SYSTEM)
        return await self._publish("hourly", hourly_text(at, balances, equity))

    async def send_daily(self, day: date) -> int:
        days = min(max((self._today() - day).days + 1, 1), 366)
        figures = next(
            (d for d in await self._portfolio.daily(SYSTEM, days) if d.day == day),
            DailyPnl(day, Decimal(0), Decimal(0), 0),
        )
        _, equity = self._portfolio.balances(SYSTEM)
        start = await self._repo.day_equity(day)
        text = daily_text(figures, equity.currency, start[0] if start else None, equity.total)
        return await self._publish("daily", text)

    async def _publish(self, kind: str, text: str) -> int:
        group = report_group(kind)
        count = 0
        for user in await self._repo.telegram_users():
            levels = await self._repo.notification_levels(user.id)
            if levels.get(group) != ON:
                continue
            await self._bus.publish(
                Event(type=EventType.REPORT, user_id=user.id, data={"kind": kind, "text": text})
            )
            count += 1
        log.info("report_sent", kind=kind, users=count)
        return count


def _user(actor: Actor) -> int:
    if actor.user_id is None:
        raise InvalidInput("no_user", "reports are chosen by a user; this caller is none")
    return actor.user_id


# -- texts (Telegram HTML, every value escaped) ---------------------------------------------
def _amount(value: Decimal | None, places: int = 8) -> str:
    if value is None:
        return "-"
    return fmt(round(value, places)) or "0"


def _signed(value: Decimal, places: int = 8) -> str:
    mark = "🟢" if value > 0 else "🔴" if value < 0 else "⚪"
    return f"{mark} {'+' if value > 0 else ''}{_amount(value, places)}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )
        for r in cells
    ]
    return "<pre>" + escape("\n".join(line.rstrip() for line in lines)) + "</pre>"


def hourly_text(at: datetime, balances: Sequence[Balance], equity: Equity) -> str:
    cur = escape(equity.currency)
    rows = [
        (b.asset, _amount(b.free), _amount(b.reserved), _amount(equity.by_asset.get(b.asset), 6))
        for b in balances
    ]
    text = (
        f"💼 <b>Hourly balance</b> · {at:%Y-%m-%d %H:%M} UTC\n"
        f"Equity <b>{_amount(equity.total, 6)} {cur}</b>\n"
        + _table(["Asset", "Free", "Reserved", f"≈{equity.currency}"], rows)
    )
    if equity.unvalued:
        text += f"\nNo price for: {escape(', '.join(equity.unvalued))}"
    return text


def daily_text(
    figures: DailyPnl, currency: str, start_equity: Decimal | None, equity: Decimal
) -> str:
    cur = escape(currency)
    lines = [
        f"📅 <b>Daily PnL</b> · {figures.day:%Y-%m-%d} (UTC)",
        f"Realized: {_signed(figures.realized)} {cur}",
        f"Fees: {_amount(figures.fees)} {cur} · fills: {figures.fills}",
    ]
    if start_equity is None:
        lines.append(f"Equity now: {_amount(equity, 6)} {cur}")
    else:
        change = equity - start_equity
        lines.append(
            f"Equity: {_amount(start_equity, 6)} → {_amount(equity, 6)} {cur} "
            f"({_signed(change, 6)})"
        )
    return "\n".join(lines)
