"""Reconciling balances and perpetual positions, and the report the admins read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tradedeck.domain.balances import Balance
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live.models import (
    AccountSnapshot,
    FuturesPosition,
    MarginMode,
    RemoteOrder,
)
from tradedeck.trading.reconcile import DifferenceKind, Reconciliation, reconcile, summary

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
D = Decimal


def account(
    balances: dict[str, tuple[Decimal, Decimal]] | None = None,
    positions: tuple[FuturesPosition, ...] = (),
    open_orders: tuple[RemoteOrder, ...] = (),
) -> AccountSnapshot:
    return AccountSnapshot(NOW, open_orders, balances or {}, positions)


def position(symbol: str, contracts: str, entry: str) -> FuturesPosition:
    return FuturesPosition(
        symbol=symbol,
        contracts=D(contracts),
        entry_price=D(entry),
        mark_price=None,
        liquidation_price=None,
        unrealized_pnl=D(0),
        leverage=5,
        margin_mode=MarginMode.ISOLATED,
    )


def hand_order(n: int) -> RemoteOrder:
    return RemoteOrder(
        exchange_order_id=str(n),
        client_order_id=f"web_{n:03d}",
        symbol="ETH/USDT",
        side=Side.SELL,
        type=OrderType.LIMIT,
        status=OrderStatus.OPEN,
        amount=D(1),
        filled=D(0),
        average_price=None,
        price=D(3000),
        stop_price=None,
        fee=D(0),
        fee_currency=None,
        updated_at=NOW,
    )


def test_balance_dust_is_corrected_but_does_not_matter() -> None:
    result = reconcile(
        [],
        account({"BTC": (D("1.000000005"), D(0))}),
        {},
        {"BTC": Balance("BTC", D(1))},
        now=NOW,
    )
    (difference,) = result.differences
    assert difference.kind is DifferenceKind.BALANCE_CHANGED
    assert not difference.matters
    assert result.update.balances == [Balance("BTC", D("1.000000005"), D(0))]
    assert summary(result) == "no differences that matter (1 minor)"


def test_real_balance_delta_matters_and_carries_both_sides() -> None:
    result = reconcile(
        [],
        account({"USDT": (D(900), D(150))}),
        {},
        {"USDT": Balance("USDT", D(1000), D(100))},
        now=NOW,
    )
    (difference,) = result.differences
    assert difference.matters
    assert difference.subject == "USDT"
    assert difference.detail == (
        "USDT: 900 free and 150 in orders on the exchange, 1000 and 100 here (-50)"
    )
    assert result.update.balances == [Balance("USDT", D(900), D(150))]


def test_moving_money_between_free_and_reserved_is_corrected_quietly() -> None:
    result = reconcile(
        [], account({"USDT": (D(900), D(100))}), {}, {"USDT": Balance("USDT", D(1000))}, now=NOW
    )
    assert [d.matters for d in result.differences] == [False]
    assert result.update.balances == [Balance("USDT", D(900), D(100))]


def test_dust_can_be_set_per_asset() -> None:
    balances = {"USDT": Balance("USDT", D(100)), "BTC": Balance("BTC", D(1))}
    exchange = account({"USDT": (D("100.4"), D(0)), "BTC": (D("1.0001"), D(0))})
    result = reconcile([], exchange, {}, balances, now=NOW, dust={"USDT": D("0.5")})
    assert [(d.subject, d.matters) for d in result.differences] == [
        ("BTC", True),
        ("USDT", False),
    ]
    everything = reconcile([], exchange, {}, balances, now=NOW, dust=D(1))
    assert not everything.matters


def test_assets_missing_on_either_side_count_as_zero() -> None:
    result = reconcile(
        [],
        account({"ETH": (D(2), D(0)), "DOGE": (D(0), D(0))}),
        {},
        {"BNB": Balance("BNB", D("0.5"))},
        now=NOW,
    )
    assert [(d.subject, d.matters) for d in result.differences] == [
        ("BNB", True),
        ("ETH", True),
    ]
    assert result.update.balances == [Balance("BNB"), Balance("ETH", D(2))]


def test_futures_positions_opened_closed_and_changed() -> None:
    exchange = account(
        positions=(
            position("BTC/USDT", "0.5", "30000"),
            position("ETH/USDT", "-2", "3100"),
            position("SOL/USDT", "10", "150"),
            position("XRP/USDT", "0", "0"),
        )
    )
    ours = {
        "ETH/USDT": position("ETH/USDT", "-3", "3000"),
        "SOL/USDT": position("SOL/USDT", "10", "150"),
        "ADA/USDT": position("ADA/USDT", "100", "0.45"),
    }
    result = reconcile([], exchange, {}, {}, ours, now=NOW)

    assert [(d.kind, d.subject, d.matters) for d in result.differences] == [
        (DifferenceKind.POSITION_CLOSED, "ADA/USDT", True),
        (DifferenceKind.POSITION_OPENED, "BTC/USDT", True),
        (DifferenceKind.POSITION_CHANGED, "ETH/USDT", True),
    ]
    details = [d.detail for d in result.differences]
    assert details == [
        "ADA/USDT: long 100 @ 0.45 here is closed on the exchange",
        "BTC/USDT: long 0.5 @ 30000 open on the exchange, none here",
        "ETH/USDT: short 2 @ 3100 on the exchange, short 3 @ 3000 here",
    ]


def test_differences_are_sorted_orders_then_balances_then_positions() -> None:
    result = reconcile(
        [],
        account(
            {"USDT": (D(5), D(0))},
            (position("BTC/USDT", "1", "30000"),),
            (hand_order(2), hand_order(1)),
        ),
        {},
        {},
        now=NOW,
    )
    assert [(d.kind, d.subject) for d in result.differences] == [
        (DifferenceKind.ORDER_UNKNOWN_LOCALLY, "web_001"),
        (DifferenceKind.ORDER_UNKNOWN_LOCALLY, "web_002"),
        (DifferenceKind.BALANCE_CHANGED, "USDT"),
        (DifferenceKind.POSITION_OPENED, "BTC/USDT"),
    ]


def test_summary_of_nothing() -> None:
    assert summary(Reconciliation()) == "no differences"


def test_summary_lists_what_matters_and_counts_the_rest() -> None:
    result = reconcile(
        [],
        account({"USDT": (D("100.000000001"), D(0))}, open_orders=(hand_order(1),)),
        {},
        {"USDT": Balance("USDT", D(100))},
        now=NOW,
    )
    assert summary(result) == (
        "1 difference with the exchange (and 1 minor):\n"
        "- order web_001 ETH/USDT sell 1 @ 3000 is open on the exchange"
        " and was not placed by tradedeck; left alone"
    )


def test_summary_is_truncated() -> None:
    result = reconcile(
        [], account(open_orders=tuple(hand_order(n) for n in range(25))), {}, {}, now=NOW
    )
    lines = summary(result).splitlines()
    assert lines[0] == "25 differences with the exchange:"
    assert len(lines) == 1 + 20 + 1
    assert lines[1].startswith("- order web_000 ")
    assert lines[-1] == "… and 5 more"
    assert summary(result, limit=3).splitlines()[-1] == "… and 22 more"
