"""Reconciling orders with the exchange: catching up on fills, statuses and strangers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tests.unit.trading.remote_reports import ID, LATER, NOW, OTHER_ID, T0, D, remote, trade

from tradedeck.domain.balances import Balance
from tradedeck.domain.orders import Order, OrderRole, OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live.models import AccountSnapshot, RemoteOrder
from tradedeck.trading.reconcile import (
    DifferenceKind,
    Reconciliation,
    fill_id,
    looks_like_ours,
    needs_lookup,
    reconcile,
)


def order(**changes: Any) -> Order:
    values: dict[str, Any] = {
        "id": ID,
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "amount": D("0.5"),
        "price": D(30000),
        "status": OrderStatus.OPEN,
        "reserved": D(15000),
        "created_at": T0,
        "updated_at": T0,
        "user_id": 7,
    }
    values.update(changes)
    return Order(**values)


def snapshot(*open_orders: RemoteOrder, **balances: tuple[Decimal, Decimal]) -> AccountSnapshot:
    return AccountSnapshot(taken_at=LATER, open_orders=open_orders, balances=dict(balances))


def run(
    local_open: Sequence[Order],
    account: AccountSnapshot,
    lookups: Mapping[str, RemoteOrder | None] | None = None,
    balances: Mapping[str, Balance] | None = None,
    **options: Any,
) -> Reconciliation:
    """Reconcile, checking on the way that none of the inputs was touched."""
    before = [o.copy() for o in local_open]
    money = {asset: b.copy() for asset, b in (balances or {}).items()}
    result = reconcile(local_open, account, lookups or {}, money, now=NOW, **options)
    assert list(local_open) == before
    assert money == {asset: b.copy() for asset, b in (balances or {}).items()}
    return result


def only(result: Reconciliation) -> Order:
    assert len(result.update.orders) == 1
    return result.update.orders[0]


def kinds(result: Reconciliation) -> list[DifferenceKind]:
    return [d.kind for d in result.differences]


def test_nothing_changed_means_no_differences_and_no_corrections() -> None:
    partly = order(status=OrderStatus.PARTIALLY_FILLED, filled=D("0.1"), average_price=D(30000))
    account = snapshot(
        remote(status=OrderStatus.PARTIALLY_FILLED, filled=D("0.1"), average_price=D(30000)),
        USDT=(D(100), D(12000)),
    )
    result = run([partly], account, balances={"USDT": Balance("USDT", D(100), D(12000))})
    assert result.differences == []
    assert result.update.empty
    assert result.adopted == []
    assert not result.matters


def test_filled_while_away_records_the_exchange_trades() -> None:
    final = remote(
        status=OrderStatus.FILLED,
        filled=D("0.5"),
        average_price=D(29986),
        fee=D("0.5"),
        trades=(trade("2", "0.3", "29980", "0.3"), trade("1", "0.2", "29995", "0.2")),
    )
    result = run([order()], snapshot(), {ID: final})

    filled = only(result)
    assert filled.status is OrderStatus.FILLED
    assert filled.filled == D("0.5")
    assert filled.average_price == D(29986)
    assert filled.fee == D("0.5")
    assert filled.reserved == 0
    assert [(f.id, f.amount, f.price) for f in result.update.fills] == [
        (fill_id("900", "1"), D("0.2"), D(29995)),
        (fill_id("900", "2"), D("0.3"), D(29980)),
    ]
    assert all(f.order_id == ID and f.user_id == 7 for f in result.update.fills)
    (difference,) = result.differences
    assert difference.kind is DifferenceKind.ORDER_FILLED
    assert difference.subject == ID
    assert difference.matters
    assert difference.detail == (
        "order 1f3a9c0e… BTC/USDT buy 0.5 @ 30000 filled 0.5 at 29986 on the exchange"
    )


def test_fill_without_trades_is_synthesized_at_the_implied_price() -> None:
    partly = order(
        status=OrderStatus.PARTIALLY_FILLED, filled=D("0.2"), average_price=D(30000), fee=D("0.2")
    )
    final = remote(status=OrderStatus.FILLED, filled=D("0.5"), average_price=D(29988), fee=D("0.5"))
    result = run([partly], snapshot(), {ID: final})

    (fill,) = result.update.fills
    # 0.5 at 29988 on the exchange, 0.2 at 30000 known: the other 0.3 cost 29980 each.
    assert (fill.amount, fill.price, fill.fee, fill.fee_currency) == (
        D("0.3"),
        D(29980),
        D("0.3"),
        "USDT",
    )
    assert fill.timestamp == LATER
    filled = only(result)
    assert (filled.status, filled.average_price, filled.fee) == (
        OrderStatus.FILLED,
        D(29988),
        D("0.5"),
    )
    assert "filled 0.5 at 29988 on the exchange (0.3 new)" in result.differences[0].detail


def test_partially_filled_then_canceled_keeps_the_fill() -> None:
    final = remote(
        status=OrderStatus.CANCELED,
        filled=D("0.2"),
        average_price=D(29990),
        trades=(trade("1", "0.2", "29990"),),
    )
    result = run([order()], snapshot(), {ID: final})

    canceled = only(result)
    assert canceled.status is OrderStatus.CANCELED
    assert canceled.status_reason == "canceled on the exchange"
    assert canceled.filled == D("0.2")
    assert canceled.reserved == 0
    assert len(result.update.fills) == 1
    (difference,) = result.differences
    assert difference.kind is DifferenceKind.ORDER_CANCELED
    assert difference.detail.endswith("canceled on the exchange after filling 0.2 at 29990")


def test_canceled_on_the_exchange_without_fills() -> None:
    result = run([order()], snapshot(), {ID: remote(status=OrderStatus.CANCELED)})
    canceled = only(result)
    assert (canceled.status, canceled.status_reason, canceled.updated_at) == (
        OrderStatus.CANCELED,
        "canceled on the exchange",
        LATER,
    )
    assert result.update.fills == []
    assert kinds(result) == [DifferenceKind.ORDER_CANCELED]
    assert result.matters


def test_rejected_and_expired_orders_take_the_exchange_status() -> None:
    result = run(
        [order(), order(id=OTHER_ID)],
        snapshot(),
        {
            ID: remote(status=OrderStatus.REJECTED),
            OTHER_ID: remote(client_order_id=OTHER_ID, status=OrderStatus.EXPIRED),
        },
    )
    assert [(o.id, o.status) for o in result.update.orders] == [
        (ID, OrderStatus.REJECTED),
        (OTHER_ID, OrderStatus.EXPIRED),
    ]
    assert kinds(result) == [DifferenceKind.ORDER_REJECTED, DifferenceKind.ORDER_EXPIRED]


def test_order_missing_remotely_is_canceled() -> None:
    result = run([order()], snapshot(), {ID: None})
    gone = only(result)
    assert (gone.status, gone.status_reason, gone.updated_at) == (
        OrderStatus.CANCELED,
        "not found on the exchange",
        NOW,
    )
    (difference,) = result.differences
    assert difference.kind is DifferenceKind.ORDER_MISSING_REMOTELY
    assert difference.matters


def test_order_not_looked_up_is_left_alone() -> None:
    result = run([order()], snapshot())
    assert result.differences == []
    assert result.update.empty


def test_unconfirmed_order_open_on_the_exchange_becomes_open_quietly() -> None:
    result = run([order(status=OrderStatus.NEW)], snapshot(remote()))
    assert only(result).status is OrderStatus.OPEN
    assert kinds(result) == [DifferenceKind.ORDER_OPEN]
    assert not result.matters


def test_our_unrecorded_orders_are_adopted_with_their_legs() -> None:
    entry = remote(
        client_order_id=OTHER_ID,
        exchange_order_id="901",
        status=OrderStatus.PARTIALLY_FILLED,
        filled=D("0.1"),
        average_price=D(29000),
        trades=(trade("1", "0.1", "29000", exchange_order_id="901"),),
    )
    stop = remote(
        client_order_id=f"{ID}-sl",
        exchange_order_id="902",
        side=Side.SELL,
        type=OrderType.STOP_MARKET,
        price=None,
        stop_price=D(28000),
        amount=D("0.4"),
    )
    result = run([], snapshot(stop, entry))

    assert [o.id for o in result.adopted] == [f"{ID}-sl", OTHER_ID]
    assert result.update.orders == result.adopted
    leg, adopted_entry = result.adopted
    assert (adopted_entry.role, adopted_entry.status, adopted_entry.filled) == (
        OrderRole.ENTRY,
        OrderStatus.PARTIALLY_FILLED,
        D("0.1"),
    )
    assert [f.id for f in result.update.fills] == [fill_id("901", "1")]
    assert (leg.role, leg.parent_id, leg.status, leg.stop_price) == (
        OrderRole.STOP_LOSS,
        ID,
        OrderStatus.OPEN,
        D(28000),
    )
    assert kinds(result) == [DifferenceKind.ORDER_UNKNOWN_LOCALLY] * 2
    assert result.differences[0].detail == (
        "order 1f3a9c0e…-sl BTC/USDT sell 0.4 stop 28000 is open on the exchange"
        " but was not recorded here; adopted as open"
    )
    assert all(d.matters for d in result.differences)


def test_take_profit_leg_is_adopted_as_take_profit() -> None:
    result = run([], snapshot(remote(client_order_id=f"{ID}-tp", side=Side.SELL)))
    (leg,) = result.adopted
    assert (leg.role, leg.parent_id) == (OrderRole.TAKE_PROFIT, ID)


def test_foreign_orders_are_reported_not_adopted() -> None:
    by_hand = remote(client_order_id="web_Zx81kq", exchange_order_id="77")
    nameless = remote(client_order_id=None, exchange_order_id="78", type=OrderType.MARKET)
    result = run([], snapshot(by_hand, nameless))

    assert result.adopted == []
    assert result.update.empty
    assert [(d.kind, d.subject, d.matters) for d in result.differences] == [
        (DifferenceKind.ORDER_UNKNOWN_LOCALLY, "78", True),
        (DifferenceKind.ORDER_UNKNOWN_LOCALLY, "web_Zx81kq", True),
    ]
    assert result.differences[1].detail == (
        "order web_Zx81kq BTC/USDT buy 0.5 @ 30000 is open on the exchange"
        " and was not placed by tradedeck; left alone"
    )


def test_custom_ownership_rule_decides_adoption() -> None:
    account = snapshot(remote(client_order_id="bot-1"))
    assert run([], account).adopted == []
    adopted = run([], account, is_ours=lambda cid: cid.startswith("bot-")).adopted
    assert [o.id for o in adopted] == ["bot-1"]


def test_known_trades_are_not_counted_twice() -> None:
    partly = order(status=OrderStatus.PARTIALLY_FILLED, filled=D("0.2"), average_price=D(30000))
    final = remote(
        status=OrderStatus.FILLED,
        filled=D("0.5"),
        average_price=D(29994),
        trades=(trade("1", "0.2", "30000"), trade("2", "0.3", "29990")),
    )
    result = run([partly], snapshot(), {ID: final}, known_fill_ids={fill_id("900", "1")})
    assert [(f.id, f.amount) for f in result.update.fills] == [(fill_id("900", "2"), D("0.3"))]
    assert only(result).average_price == D(29994)


def test_trades_stored_under_other_ids_do_not_overfill() -> None:
    # The first trade was recorded here under an id of its own: only the newest fits the gap.
    partly = order(status=OrderStatus.PARTIALLY_FILLED, filled=D("0.2"), average_price=D(30000))
    final = remote(
        status=OrderStatus.PARTIALLY_FILLED,
        filled=D("0.3"),
        average_price=D(29980),
        trades=(trade("1", "0.2", "30000"), trade("2", "0.1", "29940")),
    )
    result = run([partly], snapshot(final))
    assert [f.id for f in result.update.fills] == [fill_id("900", "2")]
    assert only(result).filled == D("0.3")


def test_exchange_reporting_less_filled_is_a_conflict() -> None:
    partly = order(status=OrderStatus.PARTIALLY_FILLED, filled=D("0.3"), average_price=D(30000))
    final = remote(status=OrderStatus.CANCELED, filled=D("0.2"), average_price=D(30000))
    result = run([partly], snapshot(), {ID: final})
    assert only(result).filled == D("0.3")
    assert kinds(result) == [DifferenceKind.ORDER_CANCELED, DifferenceKind.ORDER_CONFLICT]
    assert "filled 0.3 here but 0.2 on the exchange" in result.differences[1].detail


def test_forbidden_transition_is_reported_not_forced() -> None:
    partly = order(status=OrderStatus.PARTIALLY_FILLED, filled=D("0.2"), average_price=D(30000))
    final = remote(status=OrderStatus.REJECTED, filled=D("0.2"), average_price=D(30000))
    result = run([partly], snapshot(), {ID: final})
    assert result.update.orders == []
    (difference,) = result.differences
    assert difference.kind is DifferenceKind.ORDER_CONFLICT
    assert "is partially_filled here but rejected on the exchange" in difference.detail


def test_fill_without_any_price_is_left_to_a_human() -> None:
    market = order(type=OrderType.MARKET, price=None)
    final = remote(type=OrderType.MARKET, price=None, status=OrderStatus.FILLED, filled=D("0.5"))
    result = run([market], snapshot(), {ID: final})
    assert result.update.orders == []
    assert result.update.fills == []
    (difference,) = result.differences
    assert difference.kind is DifferenceKind.ORDER_CONFLICT
    assert difference.detail == (
        "order 1f3a9c0e… BTC/USDT buy 0.5 market is filled 0.5 on the exchange at a price"
        " it does not report; only 0 is recorded here"
    )


def test_needs_lookup_names_open_orders_missing_from_the_snapshot() -> None:
    local = [order(), order(id=OTHER_ID), order(id="done", status=OrderStatus.FILLED)]
    assert needs_lookup(local, snapshot(remote())) == [OTHER_ID]


def test_reconciling_the_corrected_state_again_finds_nothing() -> None:
    exchange = {
        ID: remote(
            status=OrderStatus.FILLED,
            filled=D("0.5"),
            average_price=D(29988),
            fee=D("0.5"),
            trades=(trade("1", "0.2", "30000", "0.2"),),
        ),
        OTHER_ID: remote(
            client_order_id=OTHER_ID,
            exchange_order_id="901",
            status=OrderStatus.PARTIALLY_FILLED,
            filled=D("0.1"),
            average_price=D(29000),
            trades=(trade("3", "0.1", "29000", exchange_order_id="901"),),
        ),
        f"{ID}-tp": remote(client_order_id=f"{ID}-tp", exchange_order_id="902", side=Side.SELL),
    }
    account = snapshot(
        *(r for r in exchange.values() if r.is_open), USDT=(D(50), D(14500)), BTC=(D("0.6"), D(0))
    )
    local_open = [order(), order(id=OTHER_ID, price=D(29000))]
    balances = {"USDT": Balance("USDT", D(20000)), "BTC": Balance("BTC", D("0.1"))}
    known: set[str] = set()

    rounds = []
    for _ in range(2):
        lookups = {i: exchange.get(i) for i in needs_lookup(local_open, account)}
        result = run(local_open, account, lookups, balances, known_fill_ids=frozenset(known))
        rounds.append(result)
        corrected = {o.id: o for o in result.update.orders}
        local_open = [corrected.get(o.id, o) for o in local_open] + result.adopted
        local_open = [o for o in local_open if o.status.is_open]
        balances = {**balances, **{b.asset: b for b in result.update.balances}}
        known |= {f.id for f in result.update.fills}

    first, second = rounds
    assert first.matters
    assert second.differences == []
    assert second.update.empty
    assert [o.id for o in local_open] == [OTHER_ID, f"{ID}-tp"]


def test_inputs_are_left_untouched() -> None:
    local = [order(), order(id=OTHER_ID)]
    orders_before = [o.copy() for o in local]
    account = snapshot(remote(client_order_id=None), BTC=(D(1), D(0)))
    exchange_balances = dict(account.balances)
    balances = {"BTC": Balance("BTC", D(2)), "ETH": Balance("ETH", D(3))}
    balances_before = {asset: b.copy() for asset, b in balances.items()}
    final = remote(status=OrderStatus.FILLED, filled=D("0.5"), average_price=D(30000))

    result = reconcile(local, account, {ID: final, OTHER_ID: None}, balances, now=NOW)

    assert len(result.update.orders) == 2
    assert local == orders_before
    assert balances == balances_before
    assert account.balances == exchange_balances
    assert all(o is not original for o in result.update.orders for original in local)


def test_our_id_format() -> None:
    assert looks_like_ours(ID)
    assert looks_like_ours(f"{ID}-sl")
    assert looks_like_ours(f"{ID}-tp")
    assert not looks_like_ours(f"{ID}-xx")
    assert not looks_like_ours("web_Zx81kq")
    assert not looks_like_ours(ID.upper())
