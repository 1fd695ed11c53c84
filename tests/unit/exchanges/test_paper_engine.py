"""The paper engine as a trader sees it: prices, fees, reservations and protective legs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict, InvalidInput, NotFound, OrderRejected
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
MARKETS = {"ETH/BTC": ETH_BTC}


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def candle(
    minute: int, open_: str, high: str, low: str, close: str, volume: str = "1000"
) -> Candle:
    return Candle("ETH/BTC", "1m", at(minute), D(open_), D(high), D(low), D(close), D(volume))


def flat(minute: int, price: str, volume: str = "1000") -> Candle:
    return candle(minute, price, price, price, price, volume)


_ids = itertools.count(1)


def order(
    side: Side,
    type_: OrderType,
    amount: str,
    price: str | None = None,
    stop: str | None = None,
    **extra: object,
) -> Order:
    return Order(
        id=f"o{next(_ids)}",
        symbol=extra.pop("symbol", "ETH/BTC"),  # type: ignore[arg-type]
        side=side,
        type=type_,
        amount=D(amount),
        created_at=T0,
        updated_at=T0,
        price=None if price is None else D(price),
        stop_price=None if stop is None else D(stop),
        user_id=7,
        **extra,  # type: ignore[arg-type]
    )


def engine(
    btc: str = "1", eth: str = "0", config: PaperConfig | None = None, price: str | None = "0.06"
) -> PaperEngine:
    counter = itertools.count(1)
    e = PaperEngine(
        MARKETS,
        config or PaperConfig(),
        balances=[Balance("BTC", D(btc)), Balance("ETH", D(eth))],
        new_id=lambda: f"id{next(counter)}",
    )
    if price is not None:
        e.on_candle(flat(0, price), at(0))
    return e


def balances(e: PaperEngine) -> dict[str, tuple[D, D]]:
    return {b.asset: (b.free, b.reserved) for b in e.balances()}


# ---------------------------------------------------------------- market orders


def test_market_buy_fills_at_last_price_plus_slippage_and_pays_fee() -> None:
    e = engine()
    update = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1))

    (fill,) = update.fills
    assert fill.price == D("0.06003")  # 0.06 * (1 + 5 bps)
    assert fill.amount == D("1")
    assert fill.fee == D("0.00006003")
    assert fill.fee_currency == "BTC"
    assert fill.timestamp == at(1)
    assert fill.user_id == 7
    (filled,) = update.orders
    assert filled.status is OrderStatus.FILLED
    assert filled.reserved == 0
    assert filled.average_price == D("0.06003")
    assert balances(e) == {"BTC": (D("0.93990997"), D(0)), "ETH": (D("1"), D(0))}
    assert {b.asset for b in update.balances} == {"BTC", "ETH"}
    assert e.open_orders() == []


def test_market_sell_fills_below_last_price() -> None:
    e = engine(btc="0", eth="2")
    update = e.submit(order(Side.SELL, OrderType.MARKET, "2"), at(1))

    (fill,) = update.fills
    assert fill.price == D("0.05997")
    assert fill.fee == D("0.00011994")
    assert balances(e) == {"BTC": (D("0.11982006"), D(0)), "ETH": (D(0), D(0))}


def test_slipped_price_is_rounded_to_the_tick() -> None:
    e = engine(price="0.05")
    (fill,) = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1)).fills
    assert fill.price == D("0.05002")  # 0.050025 rounds half-even to the tick


def test_market_order_without_any_price_is_rejected() -> None:
    e = engine(price=None)
    with pytest.raises(OrderRejected) as refused:
        e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1))
    assert refused.value.code == "no_price"


# ---------------------------------------------------------------- refusals


def test_insufficient_funds_rejects_and_changes_nothing() -> None:
    e = engine(btc="0.01")
    before = balances(e)
    with pytest.raises(OrderRejected) as refused:
        e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    assert refused.value.code == "insufficient_funds"
    assert "BTC" in refused.value.detail
    assert "0.05005" in refused.value.detail  # needed: 1 * 0.05 * 1.001
    assert "0.01" in refused.value.detail  # free
    assert balances(e) == before
    assert e.open_orders() == []


def test_sell_needs_the_base_asset() -> None:
    e = engine(eth="0.5")
    with pytest.raises(OrderRejected) as refused:
        e.submit(order(Side.SELL, OrderType.LIMIT, "1", "0.07"), at(1))
    assert refused.value.code == "insufficient_funds"
    assert "ETH" in refused.value.detail


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (order(Side.BUY, OrderType.LIMIT, "0.0015", "0.05"), "invalid_precision"),
        (order(Side.BUY, OrderType.LIMIT, "1", "0.050001"), "invalid_precision"),
        (order(Side.BUY, OrderType.STOP_MARKET, "1", stop="0.0700001"), "invalid_precision"),
        (order(Side.BUY, OrderType.LIMIT, "0.001", "0.05"), "below_min_notional"),
        (order(Side.BUY, OrderType.MARKET, "0.001"), "below_min_notional"),
        (order(Side.BUY, OrderType.LIMIT, "1", "0.05", symbol="DOGE/BTC"), "unknown_symbol"),
        (order(Side.BUY, OrderType.LIMIT, "1"), "missing_price"),
        (order(Side.BUY, OrderType.STOP_LIMIT, "1", "0.07"), "missing_stop_price"),
        (order(Side.BUY, OrderType.LIMIT, "0", "0.05"), "invalid_amount"),
        (order(Side.BUY, OrderType.LIMIT, "1", "0"), "invalid_price"),
    ],
)
def test_invalid_orders_are_refused_with_a_code(bad: Order, code: str) -> None:
    e = engine()
    before = balances(e)
    with pytest.raises(InvalidInput) as refused:
        e.submit(bad, at(1))
    assert refused.value.code == code
    assert balances(e) == before
    assert e.open_orders() == []


def test_unknown_symbol_error_names_the_symbol() -> None:
    with pytest.raises(InvalidInput, match="DOGE/BTC"):
        engine().market("DOGE/BTC")


def test_only_new_orders_can_be_submitted() -> None:
    e = engine()
    with pytest.raises(Conflict):
        e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05", status=OrderStatus.OPEN), at(1))


def test_the_same_order_id_cannot_be_open_twice() -> None:
    e = engine()
    resting = order(Side.BUY, OrderType.LIMIT, "1", "0.05")
    e.submit(resting, at(1))
    with pytest.raises(Conflict):
        e.submit(resting, at(1))


# ---------------------------------------------------------------- limit orders


def test_limit_buy_rests_reserves_and_fills_when_a_candle_crosses() -> None:
    e = engine()
    update = e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    (resting,) = update.orders
    assert resting.status is OrderStatus.OPEN
    assert resting.reserved == D("0.05005")
    assert update.fills == []
    assert balances(e)["BTC"] == (D("0.94995"), D("0.05005"))

    assert e.on_candle(candle(1, "0.055", "0.056", "0.0501", "0.052"), at(2)).fills == []

    update = e.on_candle(candle(2, "0.052", "0.053", "0.049", "0.05"), at(3))
    (fill,) = update.fills
    assert fill.price == D("0.05")  # the limit, since the candle opened above it
    assert update.orders[0].status is OrderStatus.FILLED
    assert balances(e) == {"BTC": (D("0.94995"), D(0)), "ETH": (D("1"), D(0))}


def test_limit_buy_gapping_below_fills_at_the_open_and_returns_the_rest() -> None:
    e = engine()
    e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    (fill,) = e.on_candle(candle(1, "0.045", "0.046", "0.044", "0.045"), at(2)).fills
    assert fill.price == D("0.045")
    assert fill.fee == D("0.000045")
    assert balances(e)["BTC"] == (D("0.954955"), D(0))


def test_marketable_limit_buy_fills_at_submit_at_the_last_price() -> None:
    e = engine()
    update = e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.07"), at(1))
    (fill,) = update.fills
    assert fill.price == D("0.06")
    assert update.orders[0].status is OrderStatus.FILLED
    assert balances(e)["BTC"] == (D("0.93994"), D(0))


def test_limit_sell_fills_at_the_open_when_it_gaps_up() -> None:
    e = engine(eth="1")
    e.submit(order(Side.SELL, OrderType.LIMIT, "1", "0.065"), at(1))
    assert balances(e)["ETH"] == (D(0), D("1"))
    (fill,) = e.on_candle(candle(1, "0.07", "0.071", "0.069", "0.07"), at(2)).fills
    assert fill.price == D("0.07")
    assert balances(e) == {"BTC": (D("1.06993"), D(0)), "ETH": (D(0), D(0))}


# ---------------------------------------------------------------- stop orders


def test_stop_market_buy_waits_then_triggers_at_the_stop_plus_slippage() -> None:
    e = engine()
    update = e.submit(order(Side.BUY, OrderType.STOP_MARKET, "1", stop="0.065"), at(1))
    assert update.orders[0].status is OrderStatus.OPEN
    # Reserved at the stop with slippage and fee, plus the 5 % buffer.
    assert update.orders[0].reserved == D("0.065") * D("1.0005") * D("1.001") * D("1.05")

    assert e.on_candle(candle(1, "0.06", "0.0649", "0.059", "0.062"), at(2)).fills == []
    update = e.on_candle(candle(2, "0.062", "0.066", "0.061", "0.064"), at(3))
    (fill,) = update.fills
    assert fill.price == D("0.06503")  # the stop (it opened below), plus 5 bps, on the tick
    (done,) = update.orders
    assert done.triggered
    assert done.status is OrderStatus.FILLED
    assert balances(e)["BTC"] == (D("1") - D("0.06503") * D("1.001"), D(0))


def test_stop_market_sell_that_gaps_down_fills_at_the_open() -> None:
    e = engine(eth="1")
    e.submit(order(Side.SELL, OrderType.STOP_MARKET, "1", stop="0.055"), at(1))
    (fill,) = e.on_candle(candle(1, "0.05", "0.051", "0.049", "0.05"), at(2)).fills
    assert fill.price == D("0.04998")  # 0.05 * (1 - 5 bps)


def test_stop_already_crossed_at_submit_triggers_at_once() -> None:
    e = engine()
    update = e.submit(order(Side.BUY, OrderType.STOP_MARKET, "1", stop="0.055"), at(1))
    (fill,) = update.fills
    assert fill.price == D("0.06003")
    assert update.orders[0].triggered


def test_stop_limit_triggers_and_then_rests_as_a_limit() -> None:
    e = engine(eth="1")
    e.submit(order(Side.SELL, OrderType.STOP_LIMIT, "1", "0.056", stop="0.055"), at(1))
    update = e.on_candle(candle(1, "0.0552", "0.0553", "0.0545", "0.0546"), at(2))
    (triggered,) = update.orders
    assert triggered.triggered
    assert triggered.status is OrderStatus.OPEN
    assert update.fills == []

    (fill,) = e.on_candle(candle(2, "0.057", "0.058", "0.0565", "0.0575"), at(3)).fills
    assert fill.price == D("0.057")  # opened above the limit
    assert balances(e)["ETH"] == (D(0), D(0))


def test_stop_limit_triggered_inside_a_candle_never_fills_better_than_its_stop() -> None:
    e = engine()
    e.submit(order(Side.BUY, OrderType.STOP_LIMIT, "1", "0.068", stop="0.065"), at(1))
    (fill,) = e.on_candle(candle(1, "0.06", "0.07", "0.059", "0.066"), at(2)).fills
    assert fill.price == D("0.065")


# ---------------------------------------------------------------- volume cap


def test_volume_cap_fills_partially_across_candles() -> None:
    e = engine(price=None)
    e.on_candle(flat(0, "0.06", volume="4"), at(0))  # 25 % of 4 = 1 ETH per candle
    update = e.submit(order(Side.BUY, OrderType.MARKET, "2.5"), at(1))
    (partial,) = update.orders
    assert partial.status is OrderStatus.PARTIALLY_FILLED
    assert partial.filled == D("1")

    same = e.on_candle(candle(0, "0.06", "0.061", "0.06", "0.061", volume="4"), at(1))
    assert same.fills == []  # an update of the same candle keeps what it already gave

    (second,) = e.on_candle(flat(1, "0.062", volume="4"), at(2)).fills
    assert second.amount == D("1")
    assert second.price == D("0.06203")  # the next candle's open, plus slippage

    update = e.on_candle(flat(2, "0.061", volume="40"), at(3))
    (third,) = update.fills
    assert third.amount == D("0.5")
    assert update.orders[0].status is OrderStatus.FILLED
    assert update.orders[0].reserved == 0
    assert balances(e)["ETH"] == (D("2.5"), D(0))
    assert balances(e)["BTC"][1] == 0


def test_volume_cap_is_shared_by_all_orders_of_the_symbol() -> None:
    e = engine(price=None)
    e.on_candle(flat(0, "0.06", volume="100"), at(0))
    e.submit(order(Side.BUY, OrderType.LIMIT, "2", "0.05"), at(1))
    e.submit(order(Side.BUY, OrderType.LIMIT, "2", "0.05"), at(1))
    fills = e.on_candle(candle(1, "0.05", "0.05", "0.05", "0.05", volume="12"), at(2)).fills
    assert [f.amount for f in fills] == [D("2"), D("1")]


def test_cap_that_rounds_to_zero_fills_nothing() -> None:
    e = engine(price=None)
    e.on_candle(flat(0, "0.06", volume="0.003"), at(0))  # 25 % = 0.00075, below the step
    update = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1))
    assert update.fills == []
    assert update.orders[0].status is OrderStatus.OPEN


def test_zero_volume_share_means_no_cap() -> None:
    e = engine(config=PaperConfig(volume_share=D(0)), price=None)
    e.on_candle(flat(0, "0.06", volume="0"), at(0))
    (fill,) = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1)).fills
    assert fill.amount == D("1")


def test_market_buy_remainder_expires_when_the_reservation_cannot_pay() -> None:
    e = engine(btc="0.0601", price=None, config=PaperConfig(slippage_bps=D(0)))
    e.on_candle(flat(0, "0.06", volume="0.4"), at(0))  # 0.1 ETH per candle
    e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(1))  # fills 0.1
    (cut,) = e.on_candle(flat(1, "0.5", volume="400"), at(2)).orders  # the price jumped
    assert cut.status is OrderStatus.PARTIALLY_FILLED
    assert cut.filled == D("0.208")  # plus what the reservation still covered
    (expired,) = e.on_candle(flat(2, "0.5", volume="400"), at(3)).orders
    assert expired.status is OrderStatus.EXPIRED
    assert expired.status_reason == "insufficient reserved funds for the remainder"
    assert expired.reserved == 0
    btc = e.balance("BTC")
    assert btc.reserved == 0
    assert btc.free >= 0


# ---------------------------------------------------------------- cancel


def test_cancel_releases_the_reservation() -> None:
    e = engine()
    placed = e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1)).orders[0]
    update = e.cancel(placed.id, at(2))
    (canceled,) = update.orders
    assert canceled.status is OrderStatus.CANCELED
    assert canceled.status_reason == "canceled by user"
    assert canceled.reserved == 0
    assert update.balances[0] == Balance("BTC", D("1"), D(0))
    assert e.get_order(placed.id) is None
    with pytest.raises(NotFound) as missing:
        e.cancel(placed.id, at(3))
    assert missing.value.code == "order_not_found"


def test_cancel_of_unknown_order_is_not_found() -> None:
    with pytest.raises(NotFound):
        engine().cancel("nope", at(1))


def test_partially_filled_cancel_returns_only_the_unspent_part() -> None:
    e = engine(price=None)
    e.on_candle(flat(0, "0.06", volume="4"), at(0))
    e.submit(order(Side.BUY, OrderType.LIMIT, "2", "0.06"), at(1))  # fills 1 of 2
    (open_,) = e.open_orders()
    e.cancel(open_.id, at(2))
    assert balances(e) == {"BTC": (D("1") - D("0.06006"), D(0)), "ETH": (D("1"), D(0))}


# ---------------------------------------------------------------- protective legs


def entry(amount: str = "1", price: str = "0.06", sl: str = "0.05", tp: str = "0.07") -> Order:
    return order(
        Side.BUY,
        OrderType.LIMIT,
        amount,
        price,
        stop_loss=None if sl == "" else D(sl),
        take_profit=None if tp == "" else D(tp),
        source="bot",
    )


def test_filled_entry_spawns_an_oco_pair_holding_the_coins_once() -> None:
    e = engine()
    update = e.submit(entry(), at(1))
    placed, stop_loss, take_profit = update.orders
    assert placed.status is OrderStatus.FILLED
    assert stop_loss.role is OrderRole.STOP_LOSS
    assert stop_loss.type is OrderType.STOP_MARKET
    assert stop_loss.stop_price == D("0.05")
    assert take_profit.role is OrderRole.TAKE_PROFIT
    assert take_profit.type is OrderType.LIMIT
    assert take_profit.price == D("0.07")
    for leg in (stop_loss, take_profit):
        assert leg.side is Side.SELL
        assert leg.amount == D("1")
        assert leg.parent_id == placed.id
        assert leg.oco_group == placed.id
        assert leg.user_id == 7
        assert leg.source == "bot"
        assert leg.status is OrderStatus.OPEN
        assert leg.created_at == at(1)
    assert stop_loss.reserved + take_profit.reserved == D("1")
    assert balances(e)["ETH"] == (D(0), D("1"))


def test_take_profit_fill_cancels_the_stop_loss() -> None:
    e = engine()
    e.submit(entry(), at(1))
    update = e.on_candle(candle(1, "0.065", "0.071", "0.064", "0.07"), at(2))
    (fill,) = update.fills
    assert fill.price == D("0.07")
    by_role = {o.role: o for o in update.orders}
    assert by_role[OrderRole.TAKE_PROFIT].status is OrderStatus.FILLED
    assert by_role[OrderRole.STOP_LOSS].status is OrderStatus.CANCELED
    assert by_role[OrderRole.STOP_LOSS].status_reason == "oco: other leg filled"
    assert e.open_orders() == []
    assert balances(e)["ETH"] == (D(0), D(0))
    assert balances(e)["BTC"] == (D("1") - D("0.06006") + D("0.06993"), D(0))


def test_stop_loss_fill_cancels_the_take_profit() -> None:
    e = engine()
    e.submit(entry(), at(1))
    update = e.on_candle(candle(1, "0.055", "0.055", "0.045", "0.046"), at(2))
    (fill,) = update.fills
    assert fill.price == D("0.04998")  # the stop, minus slippage, on the tick
    by_role = {o.role: o for o in update.orders}
    assert by_role[OrderRole.STOP_LOSS].status is OrderStatus.FILLED
    assert by_role[OrderRole.TAKE_PROFIT].status is OrderStatus.CANCELED
    assert balances(e)["ETH"] == (D(0), D(0))


def test_partial_leg_fill_shrinks_the_other_leg() -> None:
    e = engine(price=None)
    e.on_candle(flat(0, "0.06", volume="100"), at(0))
    e.submit(entry(amount="2"), at(1))
    update = e.on_candle(candle(1, "0.07", "0.07", "0.07", "0.07", volume="4"), at(2))
    by_role = {o.role: o for o in update.orders}
    assert by_role[OrderRole.TAKE_PROFIT].filled == D("1")
    assert by_role[OrderRole.STOP_LOSS].amount == D("1")
    assert balances(e)["ETH"] == (D(0), D("1"))

    update = e.on_candle(candle(2, "0.05", "0.05", "0.045", "0.045", volume="100"), at(3))
    (fill,) = update.fills
    assert fill.amount == D("1")  # never more than the group still holds
    assert e.open_orders() == []
    assert balances(e)["ETH"] == (D(0), D(0))


def test_cancelling_one_leg_cancels_the_group() -> None:
    e = engine()
    _, stop_loss, _ = e.submit(entry(), at(1)).orders
    update = e.cancel(stop_loss.id, at(2))
    reasons = {o.role: o.status_reason for o in update.orders}
    assert reasons == {
        OrderRole.STOP_LOSS: "canceled by user",
        OrderRole.TAKE_PROFIT: "oco group canceled",
    }
    assert all(o.status is OrderStatus.CANCELED for o in update.orders)
    assert balances(e)["ETH"] == (D("1"), D(0))


def test_single_protective_leg_has_no_group() -> None:
    e = engine()
    _, stop_loss = e.submit(entry(tp=""), at(1)).orders
    assert stop_loss.oco_group is None
    assert stop_loss.reserved == D("1")


def test_canceled_partially_filled_entry_protects_what_was_bought() -> None:
    e = engine(price=None)
    e.on_candle(flat(0, "0.06", volume="4"), at(0))
    placed = e.submit(entry(amount="2"), at(1)).orders[0]
    update = e.cancel(placed.id, at(2))
    legs = [o for o in update.orders if o.parent_id == placed.id]
    assert [leg.amount for leg in legs] == [D("1"), D("1")]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (entry(sl="0.061"), "invalid_stop_loss"),
        (entry(sl="0.050001"), "invalid_stop_loss"),
        (entry(tp="0.059"), "invalid_take_profit"),
        (entry(tp="0.0700001"), "invalid_take_profit"),
        (entry(amount="0.002", sl="0.04", tp=""), "invalid_stop_loss"),  # below min notional
        (
            order(Side.SELL, OrderType.LIMIT, "1", "0.07", stop_loss=D("0.08")),
            "protective_orders_buy_only",
        ),
    ],
)
def test_bad_protective_prices_refuse_the_entry(bad: Order, code: str) -> None:
    e = engine(eth="1")
    with pytest.raises(InvalidInput) as refused:
        e.submit(bad, at(1))
    assert refused.value.code == code
    assert e.open_orders() == []


# ---------------------------------------------------------------- atomic and copies


def test_atomic_rolls_back_everything_on_error() -> None:
    e = engine(eth="1", price=None)
    e.on_candle(flat(0, "0.06", volume="4"), at(0))  # 1 ETH may fill on this candle
    e.submit(order(Side.SELL, OrderType.LIMIT, "1", "0.07"), at(1))
    e.submit(entry(price="0.05", sl="0.04"), at(1))
    before = (balances(e), e.open_orders(), e.last_candle("ETH/BTC"))

    with pytest.raises(RuntimeError, match="db down"), e.atomic():
        e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(2))
        e.on_candle(candle(1, "0.06", "0.08", "0.04", "0.07", volume="4"), at(3))
        e.cancel(e.open_orders()[0].id, at(3))
        e.deposit("LTC", D("5"))
        raise RuntimeError("db down")

    assert (balances(e), e.open_orders(), e.last_candle("ETH/BTC")) == before
    # The volume consumed inside the block was given back too.
    (fill,) = e.submit(order(Side.BUY, OrderType.MARKET, "1"), at(4)).fills
    assert fill.amount == D("1")


def test_atomic_keeps_changes_when_the_block_succeeds() -> None:
    e = engine()
    with e.atomic():
        e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    assert len(e.open_orders()) == 1


def test_a_refused_order_inside_atomic_leaves_no_trace() -> None:
    e = engine()
    with e.atomic():
        with pytest.raises(OrderRejected):
            e.submit(order(Side.BUY, OrderType.LIMIT, "100", "0.05"), at(1))
        e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    assert balances(e)["BTC"] == (D("0.94995"), D("0.05005"))


def test_atomic_cannot_be_nested() -> None:
    e = engine()
    with e.atomic(), pytest.raises(RuntimeError), e.atomic():
        pass


def test_returned_objects_are_copies() -> None:
    e = engine()
    update = e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(1))
    update.orders[0].reserved = D(0)
    update.balances[0].free = D(100)
    e.open_orders()[0].amount = D(50)
    e.balance("BTC").reserved = D(9)
    e.balances()[0].free = D(9)
    assert e.open_orders()[0].reserved == D("0.05005")
    assert e.open_orders()[0].amount == D("1")
    assert balances(e)["BTC"] == (D("0.94995"), D("0.05005"))


def test_submitted_order_object_is_not_kept() -> None:
    e = engine()
    mine = order(Side.BUY, OrderType.LIMIT, "1", "0.05")
    e.submit(mine, at(1))
    assert mine.status is OrderStatus.NEW
    mine.amount = D(10)
    assert e.open_orders()[0].amount == D("1")


# ---------------------------------------------------------------- restore and getters


def test_restored_orders_keep_their_reservation_and_keep_matching() -> None:
    resting = order(Side.BUY, OrderType.LIMIT, "1", "0.05", status=OrderStatus.OPEN)
    resting.reserved = D("0.05005")
    e = PaperEngine(
        MARKETS, balances=[Balance("BTC", D("0.94995"), D("0.05005"))], open_orders=[resting]
    )
    assert e.balance("BTC") == Balance("BTC", D("0.94995"), D("0.05005"))
    assert e.get_order(resting.id) == resting
    e.on_candle(flat(0, "0.05"), at(1))
    assert balances(e) == {"BTC": (D("0.94995"), D(0)), "ETH": (D("1"), D(0))}


def test_restoring_a_terminal_order_is_refused() -> None:
    done = order(Side.BUY, OrderType.LIMIT, "1", "0.05", status=OrderStatus.FILLED)
    with pytest.raises(InvalidInput):
        PaperEngine(MARKETS, open_orders=[done])


def test_getters() -> None:
    e = engine(price=None)
    assert e.last_price("ETH/BTC") is None
    assert e.last_candle("ETH/BTC") is None
    assert e.balance("XRP") == Balance("XRP")
    assert e.deposit("XRP", D("3")) == Balance("XRP", D("3"))
    with pytest.raises(InvalidInput):
        e.deposit("XRP", D("-1"))
    e.on_candle(candle(0, "0.06", "0.07", "0.05", "0.065"), at(0))
    assert e.last_price("ETH/BTC") == D("0.065")
    assert [b.asset for b in e.balances()] == ["BTC", "ETH", "XRP"]
    assert e.markets["ETH/BTC"] is ETH_BTC
    assert e.config == PaperConfig()
    assert e.open_orders("LTC/BTC") == []


def test_a_late_candle_is_ignored() -> None:
    e = engine()
    e.on_candle(flat(5, "0.06"), at(5))
    e.submit(order(Side.BUY, OrderType.LIMIT, "1", "0.05"), at(6))
    assert e.on_candle(flat(1, "0.04"), at(7)).empty
    assert e.last_candle("ETH/BTC") == flat(5, "0.06")
