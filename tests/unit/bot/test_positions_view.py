"""/positions as a phone shows it: a short reads as a short, with its leverage, margin
mode, mark, PnL and liquidation distance; spot lines stay as they were."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tradedeck.bot import views
from tradedeck.domain.roles import Actor, Role
from tradedeck.exchanges.ccxt_live.models import MarketKind
from tradedeck.sandbox.html_rules import parse_html
from tradedeck.trading.portfolio import PositionSide, PositionView

TRADER = Actor(name="alice", role=Role.TRADER, channel="telegram")


@dataclass
class Portfolio:
    shown: list[PositionView]

    def positions(self, actor: Actor) -> list[PositionView]:
        return self.shown


@dataclass
class Services:
    portfolio: Portfolio


def perpetual(
    side: PositionSide,
    amount: str,
    *,
    mark: str | None = "29000",
    liquidation: str | None = "35800",
    leverage: int | None = 5,
    mode: str | None = "isolated",
    pnl: str = "100",
) -> PositionView:
    return PositionView(
        symbol="BTC/USDT",
        amount=Decimal(amount),
        average_entry=Decimal(30000),
        last_price=Decimal(29010),
        unrealized_pnl=Decimal(pnl),
        realized_pnl=None,
        quote="USDT",
        value=Decimal(2900),
        opened_at=None,
        side=side,
        market_type=MarketKind.PERPETUAL,
        mark_price=None if mark is None else Decimal(mark),
        liquidation_price=None if liquidation is None else Decimal(liquidation),
        leverage=leverage,
        margin_mode=mode,
    )


def shown(*positions: PositionView) -> list[str]:
    """The visible lines, after Telegram parsed the HTML (which must be valid)."""
    screen = views.positions(Services(Portfolio(list(positions))), TRADER)  # type: ignore[arg-type]
    return parse_html(screen.text).text.splitlines()


def test_a_short_shows_its_side_leverage_prices_pnl_and_liquidation() -> None:
    assert shown(perpetual(PositionSide.SHORT, "0.1")) == [
        "📊 Positions",
        "BTC/USDT ▼ SHORT 0.1 · 5x · isolated",
        "   entry 30000 → mark 29000",
        "   unrealized 🟢 +100 USDT",
        "   liquidation 35800 (23.4% away)",
    ]


def test_a_long_without_the_exchanges_figures_yet_says_so() -> None:
    """Right after a fill, before reconciliation: no mark, liquidation or leverage known."""
    lines = shown(
        perpetual(
            PositionSide.LONG, "2", mark=None, liquidation=None, leverage=None, mode=None, pnl="0"
        )
    )
    assert lines[1:] == [
        "BTC/USDT ▲ LONG 2",
        "   entry 30000 → last 29010",
        "   unrealized ⚪ 0 USDT",
        "   liquidation none reported",
    ]


def test_a_losing_long_is_red_and_measures_liquidation_below_the_mark() -> None:
    lines = shown(perpetual(PositionSide.LONG, "0.1", liquidation="24650", pnl="-100"))
    assert lines[1] == "BTC/USDT ▲ LONG 0.1 · 5x · isolated"
    assert lines[3] == "   unrealized 🔴 -100 USDT"
    assert lines[4] == "   liquidation 24650 (15.0% away)"


def test_spot_lines_are_unchanged_beside_perpetual_ones() -> None:
    spot = PositionView(
        symbol="ETH/BTC",
        amount=Decimal("0.5"),
        average_entry=Decimal("0.05"),
        last_price=Decimal("0.051"),
        unrealized_pnl=Decimal("0.0005"),
        realized_pnl=Decimal(0),
        quote="BTC",
        value=Decimal("0.0255"),
        opened_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert shown(spot) == [
        "📊 Positions",
        "ETH/BTC 0.5 @ 0.05 → 0.051",
        "   unrealized 🟢 +0.0005 BTC",
    ]


def test_no_positions_says_so() -> None:
    assert shown() == ["📭 No open positions."]
