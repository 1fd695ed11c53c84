"""Orders of ours that finished on the exchange while their database write was lost: which
ones the order history gives back, and how they are rebuilt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.unit.trading.remote_reports import ID, NOW, OTHER_ID, T0, D, remote, trade

from tradedeck.domain.orders import Order, OrderRole, OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live.models import AccountSnapshot, RemoteOrder
from tradedeck.trading.reconcile import (
    DifferenceKind,
    HistoryWindow,
    Reconciliation,
    fill_id,
    reconcile,
    summary,
    unrecorded,
)


def filled_market(**changes: Any) -> RemoteOrder:
    """A market buy of 0.1 that filled in two trades while our write failed."""
    in_btc = {"fee_currency": "BTC"}
    values: dict[str, Any] = {
        "type": OrderType.MARKET,
        "status": OrderStatus.FILLED,
        "amount": D("0.1"),
        "filled": D("0.1"),
        "average_price": D(30050),
        "price": None,
        "fee_currency": None,
        "updated_at": T0 + timedelta(seconds=2),
        "created_at": T0,
        "trades": (
            trade("1", "0.05", "30000", "0.00005", timestamp=T0 + timedelta(seconds=1), **in_btc),
            trade("2", "0.05", "30100", "0.00005", timestamp=T0 + timedelta(seconds=2), **in_btc),
        ),
    }
    values.update(changes)
    return remote(**values)


def nothing_open() -> AccountSnapshot:
    return AccountSnapshot(taken_at=NOW, open_orders=())


def run(
    finished: list[RemoteOrder],
    local_open: list[Order] | None = None,
    account: AccountSnapshot | None = None,
    **options: Any,
) -> Reconciliation:
    return reconcile(
        local_open or [],
        account or nothing_open(),
        {},
        {},
        now=NOW,
        finished=finished,
        **options,
    )


def recovered_kinds(result: Reconciliation) -> list[DifferenceKind]:
    return [d.kind for d in result.differences if d.kind.value.startswith("order")]


def test_a_filled_market_order_the_database_missed_is_rebuilt_with_its_fills() -> None:
    result = run([filled_market()])

    [order] = result.recovered
    assert result.update.orders == [order]
    assert (order.id, order.status, order.filled, order.average_price) == (
        ID,
        OrderStatus.FILLED,
        D("0.1"),
        D(30050),
    )
    assert (order.role, order.source, order.fee) == (OrderRole.ENTRY, "reconcile", D("0.0001"))
    assert (order.created_at, order.updated_at) == (T0, T0 + timedelta(seconds=2))
    assert [
        (f.id, f.amount, f.price, f.fee, f.fee_currency, f.timestamp) for f in result.update.fills
    ] == [
        (fill_id("900", "1"), D("0.05"), D(30000), D("0.00005"), "BTC", T0 + timedelta(seconds=1)),
        (fill_id("900", "2"), D("0.05"), D(30100), D("0.00005"), "BTC", T0 + timedelta(seconds=2)),
    ]
    [found] = result.differences
    assert found.kind is DifferenceKind.ORDER_RECOVERED and found.subject == ID and found.matters
    assert found.detail == (
        "recovered a filled order the database missed: order 1f3a9c0e… BTC/USDT buy 0.1"
        " market filled 0.1 at 30050 on the exchange"
    )
    assert summary(result) == f"1 difference with the exchange:\n- {found.detail}"


def test_without_its_trades_the_fill_is_taken_at_the_exchanges_average() -> None:
    result = run([filled_market(trades=(), fee=D("0.0001"), fee_currency="BTC")])

    [fill] = result.update.fills
    assert (fill.amount, fill.price, fill.fee, fill.fee_currency) == (
        D("0.1"),
        D(30050),
        D("0.0001"),
        "BTC",
    )
    assert result.recovered[0].status is OrderStatus.FILLED


def test_partly_filled_then_canceled_is_rebuilt_canceled_with_the_part_that_filled() -> None:
    remote = filled_market(
        type=OrderType.LIMIT,
        price=D(30000),
        status=OrderStatus.CANCELED,
        average_price=D(30000),
        trades=(trade("1", "0.05", "30000"),),
        filled=D("0.05"),
    )
    result = run([remote])

    [order] = result.recovered
    assert (order.status, order.filled, order.reserved) == (OrderStatus.CANCELED, D("0.05"), D(0))
    assert [f.amount for f in result.update.fills] == [D("0.05")]
    assert result.differences[0].detail == (
        "recovered a filled order the database missed: order 1f3a9c0e… BTC/USDT buy 0.1"
        " @ 30000 canceled on the exchange after filling 0.05 at 30000"
    )


def test_a_filled_protective_leg_is_rebuilt_as_the_leg_of_its_entry() -> None:
    leg = filled_market(client_order_id=f"{ID}-sl", side=Side.SELL, trades=())
    [order] = run([leg]).recovered
    assert (order.id, order.role, order.parent_id) == (f"{ID}-sl", OrderRole.STOP_LOSS, ID)


def test_orders_already_followed_are_not_rebuilt() -> None:
    followed_here = Order(
        id=ID,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=D("0.1"),
        created_at=T0,
        updated_at=T0,
        status=OrderStatus.OPEN,
    )
    open_there = filled_market(client_order_id=OTHER_ID, exchange_order_id="901")
    account = AccountSnapshot(
        taken_at=NOW,
        open_orders=(
            filled_market(
                client_order_id=OTHER_ID,
                exchange_order_id="901",
                status=OrderStatus.OPEN,
                filled=D(0),
                trades=(),
            ),
        ),
    )
    result = run([filled_market(), open_there], [followed_here], account)
    assert result.recovered == []
    assert DifferenceKind.ORDER_RECOVERED not in recovered_kinds(result)


def test_an_order_whose_fills_are_stored_is_not_rebuilt_again() -> None:
    first = run([filled_market()])
    known = {f.id for f in first.update.fills}
    again = run([filled_market()], known_fill_ids=known)
    assert again.recovered == [] and again.update.empty and again.differences == []


def test_orders_not_placed_by_tradedeck_are_left_to_the_balances() -> None:
    by_hand = filled_market(client_order_id="web_Zx81kq")
    nameless = filled_market(client_order_id=None, exchange_order_id="78")
    result = run([by_hand, nameless])
    assert result.recovered == [] and result.update.empty and result.differences == []


def test_an_order_that_filled_nothing_changed_nothing_and_is_left_out() -> None:
    canceled = filled_market(status=OrderStatus.CANCELED, filled=D(0), trades=())
    expired = filled_market(
        client_order_id=OTHER_ID, status=OrderStatus.EXPIRED, filled=D(0), trades=()
    )
    assert run([canceled, expired]).update.empty


def test_our_client_id_on_two_finished_orders_keeps_the_first_and_asks_a_human() -> None:
    later = filled_market(
        exchange_order_id="905",
        created_at=T0 + timedelta(minutes=1),
        updated_at=T0 + timedelta(minutes=1),
        trades=(trade("9", "0.1", "31000", exchange_order_id="905"),),
        average_price=D(31000),
    )
    result = run([later, filled_market()])

    [order] = result.recovered
    assert order.average_price == D(30050)  # the first one, by the exchange's time
    assert {f.id for f in result.update.fills} == {fill_id("900", "1"), fill_id("900", "2")}
    assert recovered_kinds(result) == [
        DifferenceKind.ORDER_RECOVERED,
        DifferenceKind.ORDER_CONFLICT,
    ]
    assert "905" in result.differences[1].detail


def test_a_fill_the_exchange_gives_no_price_for_is_reported_and_nothing_is_recorded() -> None:
    priceless = filled_market(average_price=None, trades=())
    result = run([priceless])
    assert result.recovered == [] and result.update.empty
    [conflict] = result.differences
    assert conflict.kind is DifferenceKind.ORDER_CONFLICT and conflict.matters


def test_unrecorded_keeps_finished_filled_orders_of_ours_oldest_first() -> None:
    newer = filled_market(client_order_id=OTHER_ID, exchange_order_id="902", created_at=NOW)
    still_open = filled_market(
        client_order_id=f"{ID}-tp", status=OrderStatus.PARTIALLY_FILLED, exchange_order_id="903"
    )
    known = filled_market(client_order_id=f"{ID}-sl", exchange_order_id="904")
    history = [newer, still_open, known, filled_market()]
    picked = unrecorded(history, {f"{ID}-sl"})
    assert [o.exchange_order_id for o in picked] == ["900", "902"]


def test_the_history_window_reads_on_from_the_last_read_never_beyond_a_day() -> None:
    window = HistoryWindow(lookback=timedelta(hours=24), overlap=timedelta(minutes=5))
    assert window.since(NOW, None) == NOW - timedelta(hours=24)
    last = NOW - timedelta(minutes=30)
    assert window.since(NOW, last) == last - timedelta(minutes=5)
    assert window.since(NOW, NOW - timedelta(days=3)) == NOW - timedelta(hours=24)

    page = [
        filled_market(),
        filled_market(exchange_order_id="901", created_at=T0 + timedelta(hours=1)),
    ]
    assert window.read_until(NOW, page, limit=3) == NOW  # the page held everything
    full = window.read_until(NOW, page, limit=2)  # more may follow: continue at the newest
    assert window.since(NOW, full) == T0 + timedelta(hours=1)
