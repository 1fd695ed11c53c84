"""A perpetual's position nets long and short; a spot position never goes short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradedeck.domain.orders import Side
from tradedeck.domain.positions import Position

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


def perpetual() -> Position:
    return Position("BTC/USDT", shortable=True)


def test_a_short_opens_on_a_sell_and_a_buy_closes_it_with_its_profit() -> None:
    short = perpetual()
    assert short.apply_fill(Side.SELL, D("0.1"), D(30000), D(3), T0) == 0
    assert (short.amount, short.average_entry, short.opened_at) == (D("-0.1"), D(29970), T0)
    assert short.is_open
    assert short.unrealized_pnl(D(29000)) == D(97)  # 0.1 x 970 below the net entry

    realized = short.apply_fill(Side.BUY, D("0.1"), D(29000), D("2.9"), T0 + timedelta(hours=1))
    assert realized == D("94.1")  # 97 less the closing fee
    assert (short.amount, short.average_entry, short.opened_at) == (0, 0, None)
    assert short.realized_pnl == D("94.1") and not short.is_open


def test_a_short_adds_at_the_weighted_entry_and_a_losing_close_is_negative() -> None:
    short = perpetual()
    short.apply_fill(Side.SELL, D(1), D(100), D(0), T0)
    short.apply_fill(Side.SELL, D(1), D(110), D(0), T0)
    assert (short.amount, short.average_entry) == (D(-2), D(105))
    assert short.apply_fill(Side.BUY, D(1), D(120), D(0), T0) == D(-15)
    assert (short.amount, short.average_entry) == (D(-1), D(105))  # entry kept on a reduce


def test_an_order_larger_than_the_position_closes_it_and_opens_the_other_side() -> None:
    position = perpetual()
    position.apply_fill(Side.BUY, D(1), D(100), D(0), T0)
    later = T0 + timedelta(minutes=5)
    realized = position.apply_fill(Side.SELL, D(3), D(110), D(3), later)
    assert realized == D(9)  # (110 - 100) x 1, less a third of the fee
    assert (position.amount, position.average_entry, position.opened_at) == (D(-2), D(109), later)
    assert position.realized_pnl == D(9)


def test_a_spot_position_never_goes_short() -> None:
    spot = Position("BTC/USDT")
    assert spot.apply_fill(Side.SELL, D(1), D(100), D(0), T0) == 0  # coins held before
    assert spot.amount == 0 and not spot.is_open
    spot.apply_fill(Side.BUY, D(1), D(100), D(0), T0)
    spot.apply_fill(Side.SELL, D(2), D(110), D(0), T0)
    assert spot.amount == 0 and spot.realized_pnl == D(10)


def test_a_copy_keeps_the_kind() -> None:
    assert perpetual().copy().shortable and not Position("X/Y").copy().shortable
