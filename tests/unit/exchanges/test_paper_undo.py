"""The paper engine's undo journal: a failed operation, or a failed write around several,
leaves memory exactly as it was, whatever path the operation took."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.markets import Market
from tradedeck.domain.orders import Order, OrderRole, OrderStatus, OrderType, Side
from tradedeck.exchanges.paper import PaperConfig, PaperEngine

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ETH_BTC = Market(
    symbol="ETH/BTC",
    base="ETH",
    quote="BTC",
    price_tick=D("0.00001"),
    amount_step=D("0.001"),
    min_amount=D("0.001"),
    min_notional=D("0.0001"),
)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def flat(minute: int, price: str, volume: str = "1000") -> Candle:
    p = D(price)
    return Candle("ETH/BTC", "1m", at(minute), p, p, p, p, D(volume))


class IdSource:
    """Engine ids that can be made to fail, to break an operation half-way through."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.fail_at: int | None = None

    def __call__(self) -> str:
        number = next(self._counter)
        if self.fail_at is not None and number >= self.fail_at:
            raise RuntimeError("id source down")
        return f"id{number}"


_order_ids = itertools.count(1)


def order(side: Side, type_: OrderType, amount: str, price: str | None = None) -> Order:
    return Order(
        id=f"o{next(_order_ids)}",
        symbol="ETH/BTC",
        side=side,
        type=type_,
        amount=D(amount),
        created_at=T0,
        updated_at=T0,
        price=None if price is None else D(price),
    )


def entry_with_legs() -> Order:
    """A market buy whose fill spawns a stop-loss and a take-profit leg."""
    return dataclasses.replace(
        order(Side.BUY, OrderType.MARKET, "1"), stop_loss=D("0.05"), take_profit=D("0.07")
    )


def make_engine(ids: IdSource, *, volume_share: str = "0.25") -> PaperEngine:
    e = PaperEngine(
        {"ETH/BTC": ETH_BTC},
        PaperConfig(volume_share=D(volume_share)),
        balances=[Balance("BTC", D("1")), Balance("ETH", D("2"))],
        new_id=ids,
    )
    e.on_candle(flat(0, "0.06", volume="8"), at(0))
    return e


def state(e: PaperEngine) -> tuple[object, ...]:
    return (e.balances(), e.open_orders(), e.last_candle("ETH/BTC"))


# ---------------------------------------------------------------- one operation


def test_an_operation_that_fails_half_way_changes_nothing() -> None:
    ids = IdSource()
    e = make_engine(ids)
    e.submit(order(Side.SELL, OrderType.LIMIT, "1", "0.08"), at(1))  # resting on the book
    before = state(e)
    ids.fail_at = 1  # the fill's id: after funds were reserved and the order opened
    with pytest.raises(RuntimeError, match="id source down"):
        e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(2))
    assert state(e) == before
    ids.fail_at = None
    (fill,) = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(3)).fills
    assert fill.amount == D("1")  # the volume the failed attempt used was given back


def test_a_fill_that_fails_while_spawning_its_legs_changes_nothing() -> None:
    ids = IdSource()
    e = make_engine(ids)
    before = state(e)
    ids.fail_at = 2  # 1 is the entry's fill; 2 is its first protective leg
    with pytest.raises(RuntimeError, match="id source down"):
        e.submit(entry_with_legs(), at(1))
    assert state(e) == before


def test_a_candle_that_fails_half_way_through_the_book_changes_nothing() -> None:
    ids = IdSource()
    e = make_engine(ids)
    e.submit(order(Side.SELL, OrderType.LIMIT, "0.5", "0.061"), at(1))
    e.submit(order(Side.SELL, OrderType.LIMIT, "0.5", "0.062"), at(1))
    ids.fail_at = 2  # the first sell fills, the second one's fill fails
    before = state(e)
    rising = Candle("ETH/BTC", "1m", at(1), D("0.06"), D("0.07"), D("0.06"), D("0.07"), D("8"))
    with pytest.raises(RuntimeError, match="id source down"):
        e.on_candle(rising, at(2))
    assert state(e) == before


# ---------------------------------------------------------------- atomic scopes


def test_atomic_undoes_a_price_that_moved_no_order() -> None:
    """With nothing on the book a candle only records the price: still undone."""
    e = make_engine(IdSource())
    before = state(e)
    with pytest.raises(RuntimeError, match="db down"), e.atomic():
        update = e.on_candle(flat(1, "0.07"), at(1))
        assert update.empty
        assert e.last_price("ETH/BTC") == D("0.07")
        raise RuntimeError("db down")
    assert state(e) == before


def test_atomic_restores_orders_and_the_book_order_after_several_operations() -> None:
    ids = IdSource()
    e = make_engine(ids)
    e.submit(order(Side.SELL, OrderType.LIMIT, "0.5", "0.08"), at(1))
    e.submit(entry_with_legs(), at(1))  # its legs join the book after the limit sell
    before = state(e)
    book = [o.id for o in e.open_orders()]
    with pytest.raises(RuntimeError, match="db down"), e.atomic():
        e.on_candle(flat(2, "0.075"), at(2))  # the take-profit leg fills, the stop is canceled
        e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(2))
        e.cancel(book[0], at(3))
        e.deposit("LTC", D("3"))
        raise RuntimeError("db down")
    assert state(e) == before
    assert [o.id for o in e.open_orders()] == book  # the matching order is the same too


def test_a_failed_operation_inside_atomic_leaves_the_rest_of_the_scope_standing() -> None:
    ids = IdSource()
    e = make_engine(ids)
    with e.atomic():
        e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
        after_first = state(e)
        ids.fail_at = 1
        with pytest.raises(RuntimeError, match="id source down"):
            e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(2))
        assert state(e) == after_first
    assert state(e) == after_first


def test_a_scope_undone_after_a_failed_operation_returns_to_its_start() -> None:
    ids = IdSource()
    e = make_engine(ids)
    before = state(e)
    with pytest.raises(RuntimeError, match="db down"), e.atomic():
        e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1))
        ids.fail_at = 2
        with pytest.raises(RuntimeError, match="id source down"):
            e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(2))
        raise RuntimeError("db down")
    assert state(e) == before


def test_the_volume_cap_still_holds_per_candle_and_resets_on_the_next() -> None:
    e = make_engine(IdSource(), volume_share="0.25")  # 8 on the candle: 2 may fill
    (first,) = e.submit(order(Side.BUY, OrderType.MARKET, "1.5"), at(1)).fills
    update = e.submit(order(Side.BUY, OrderType.MARKET, "1.5"), at(1))
    assert (first.amount, update.fills[0].amount) == (D("1.5"), D("0.5"))
    e.on_candle(flat(0, "0.06", volume="8"), at(2))  # the same candle again: nothing left
    assert e.get_order(update.orders[0].id) is not None
    e.on_candle(flat(1, "0.06", volume="8"), at(3))  # a new candle, a new budget
    assert e.get_order(update.orders[0].id) is None


# ---------------------------------------------------------------- copies


def test_updates_hold_copies_of_every_order_and_balance_they_report() -> None:
    e = make_engine(IdSource())
    update = e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    update.orders[0].status = OrderStatus.CANCELED
    update.balances[0].free = D(0)
    (resting,) = e.open_orders()
    assert resting.status is OrderStatus.OPEN
    assert e.balance("BTC").free == D("0.94995")
    assert resting.role is OrderRole.ENTRY


def test_an_ended_order_handed_out_is_the_callers_to_change() -> None:
    """A filled order leaves the book, so the update hands it out without a copy; changing
    it must still not reach the engine."""
    e = make_engine(IdSource())
    update = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1))
    (filled,) = update.orders
    assert filled.status is OrderStatus.FILLED
    before = state(e)
    filled.status = OrderStatus.OPEN
    filled.reserved = D(5)
    assert state(e) == before
    assert e.get_order(filled.id) is None
