"""Whatever a trader does, the paper engine never creates, loses or double-spends a coin."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput, NotFound, OrderRejected
from tradedeck.domain.markets import Market
from tradedeck.domain.orders import Order, OrderType, Side
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.paper import PaperConfig, PaperEngine

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MARKETS = {
    "ETH/BTC": Market("ETH/BTC", "ETH", "BTC", D("0.00001"), D("0.001"), D("0.001"), D("0.0001")),
    "LTC/BTC": Market("LTC/BTC", "LTC", "BTC", D("0.000001"), D("0.01"), D("0.01"), D("0.0001")),
}
SYMBOLS = list(MARKETS)
# Around 0.05 BTC for ETH and 0.002 BTC for LTC, in ticks.
CENTER_TICKS = {"ETH/BTC": 5000, "LTC/BTC": 2000}
INITIAL = {"BTC": D("0.3"), "ETH": D("5"), "LTC": D("50")}
CONFIGS = [
    PaperConfig(),
    PaperConfig(volume_share=D(0), reserve_buffer=D(0)),
    PaperConfig(volume_share=D(1), slippage_bps=D(50), fee_rate=D("0.0025")),
]


@dataclass(frozen=True)
class Submit:
    symbol: int
    side: Side
    type: OrderType
    units: int  # amount in steps
    price_offset: int  # ticks from the center
    stop_offset: int
    protect: bool


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class NewCandle:
    symbol: int
    same: bool  # an update of the latest candle instead of a new one
    open_: int
    close: int
    up: int
    down: int
    volume_units: int


offsets = st.integers(-150, 150)
submits = st.builds(
    Submit,
    symbol=st.integers(0, 1),
    side=st.sampled_from(Side),
    type=st.sampled_from(OrderType),
    units=st.one_of(st.integers(1, 3000), st.integers(1, 20)),
    price_offset=offsets,
    stop_offset=offsets,
    protect=st.sampled_from([True, True, False]),
)
candles = st.builds(
    NewCandle,
    symbol=st.integers(0, 1),
    same=st.booleans(),
    open_=offsets,
    close=offsets,
    up=st.integers(0, 150),
    down=st.integers(0, 150),
    volume_units=st.one_of(st.integers(0, 20), st.integers(0, 20000), st.integers(0, 20000)),
)
steps = st.lists(
    st.one_of(
        submits, submits, candles, candles, candles, st.builds(Cancel, pick=st.integers(0, 50))
    ),
    min_size=5,
    max_size=50,
)


@dataclass
class Ledger:
    """What the fills say must have happened, kept apart from the engine's own books."""

    bought: dict[str, D] = field(default_factory=lambda: defaultdict(D))
    sold: dict[str, D] = field(default_factory=lambda: defaultdict(D))
    fees: D = D(0)
    buy_costs: D = D(0)
    sell_proceeds: D = D(0)
    entry_filled: dict[str, D] = field(default_factory=dict)
    group_sold: dict[str, D] = field(default_factory=lambda: defaultdict(D))
    parent_of: dict[str, str] = field(default_factory=dict)

    def record(self, engine: PaperEngine, update: ExchangeUpdate) -> None:
        for order in update.orders:
            assert order.status.is_open or order.reserved == 0, "a finished order holds funds"
            if order.parent_id is not None:
                self.parent_of[order.id] = order.parent_id
            else:
                self.entry_filled[order.id] = order.filled
        for fill in update.fills:
            base = engine.market(fill.symbol).base
            self.fees += fill.fee
            if fill.side is Side.BUY:
                self.bought[base] += fill.amount
                self.buy_costs += fill.cost
            else:
                self.sold[base] += fill.amount
                self.sell_proceeds += fill.cost
            if fill.order_id in self.parent_of:
                self.group_sold[self.parent_of[fill.order_id]] += fill.amount
        for balance in update.balances:
            assert balance == engine.balance(balance.asset), "the update shows a stale balance"


def ticks(symbol: str, offset: int) -> D:
    return (CENTER_TICKS[symbol] + offset) * MARKETS[symbol].price_tick


def make_order(engine: PaperEngine, step: Submit, number: int, now: datetime) -> Order:
    symbol = SYMBOLS[step.symbol]
    market = MARKETS[symbol]
    price = ticks(symbol, step.price_offset)
    stop_loss = take_profit = None
    # Mostly on buys: on a sell they are refused, which a few examples are enough to show.
    if step.protect and (step.side is Side.BUY or step.units % 8 == 0):
        reference = price if step.type.needs_price else ticks(symbol, step.stop_offset)
        if step.type is OrderType.MARKET:
            reference = engine.last_price(symbol) or price
        stop_loss = reference * D("0.98") // market.price_tick * market.price_tick
        take_profit = reference * D("1.02") // market.price_tick * market.price_tick
    return Order(
        id=f"order-{number}",
        symbol=symbol,
        side=step.side,
        type=step.type,
        amount=step.units * market.amount_step,
        created_at=now,
        updated_at=now,
        price=price if step.type.needs_price else None,
        stop_price=ticks(symbol, step.stop_offset) if step.type.needs_stop else None,
        stop_loss=stop_loss,
        take_profit=take_profit,
    )


def make_candle(engine: PaperEngine, step: NewCandle, now: datetime) -> Candle:
    symbol = SYMBOLS[step.symbol]
    latest = engine.last_candle(symbol)
    opened_at = latest.opened_at if step.same and latest is not None else now
    open_, close = ticks(symbol, step.open_), ticks(symbol, step.close)
    tick = MARKETS[symbol].price_tick
    return Candle(
        symbol=symbol,
        timeframe="1m",
        opened_at=opened_at,
        open=open_,
        high=max(open_, close) + step.up * tick,
        low=max(tick, min(open_, close) - step.down * tick),
        close=close,
        volume=step.volume_units * MARKETS[symbol].amount_step,
    )


def check_books(engine: PaperEngine, ledger: Ledger) -> None:
    balances = {asset: engine.balance(asset) for asset in INITIAL}
    for balance in engine.balances():
        assert balance.free >= 0, balance
        assert balance.reserved >= 0, balance
    for base in ("ETH", "LTC"):
        held = balances[base].free + balances[base].reserved
        assert INITIAL[base] + ledger.bought[base] - ledger.sold[base] == held
    btc = balances["BTC"]
    assert INITIAL["BTC"] == (
        btc.free + btc.reserved + ledger.fees + ledger.buy_costs - ledger.sell_proceeds
    )
    held_by_orders: dict[str, D] = defaultdict(D)
    for order in engine.open_orders():
        assert order.reserved >= 0
        market = engine.market(order.symbol)
        held_by_orders[market.quote if order.side is Side.BUY else market.base] += order.reserved
    for asset, balance in balances.items():
        assert held_by_orders[asset] == balance.reserved, asset
    for entry_id, sold in ledger.group_sold.items():
        assert sold <= ledger.entry_filled[entry_id], "a protective group sold too much"
    check_sell_reservations(engine, ledger)


def check_sell_reservations(engine: PaperEngine, ledger: Ledger) -> None:
    """A sell holds exactly what it may still sell; an OCO group holds it once, for all legs."""
    groups: dict[str, list[Order]] = defaultdict(list)
    for order in engine.open_orders():
        if order.side is Side.SELL:
            groups[order.oco_group or order.id].append(order)
    for group_id, legs in groups.items():
        still_sellable = max(leg.remaining for leg in legs)
        assert sum(leg.reserved for leg in legs) == still_sellable, group_id
        parent = legs[0].parent_id
        if parent is not None:
            unsold = ledger.entry_filled[parent] - ledger.group_sold[parent]
            assert still_sellable <= unsold, "a protective leg could sell more than is left"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(config=st.sampled_from(CONFIGS), script=steps)
def test_books_always_balance(
    config: PaperConfig, script: list[Submit | Cancel | NewCandle]
) -> None:
    ids = itertools.count()
    engine = PaperEngine(
        MARKETS,
        config,
        balances=[Balance(asset, amount) for asset, amount in INITIAL.items()],
        new_id=lambda: f"engine-{next(ids)}",
    )
    ledger = Ledger()
    for number, step in enumerate(script):
        now = T0 + timedelta(minutes=number)
        try:
            if isinstance(step, Submit):
                update = engine.submit(make_order(engine, step, number, now), now)
            elif isinstance(step, NewCandle):
                update = engine.on_candle(make_candle(engine, step, now), now)
            else:
                open_orders = engine.open_orders()
                target = open_orders[step.pick % len(open_orders)].id if open_orders else "none"
                update = engine.cancel(target, now)
        except (InvalidInput, OrderRejected, NotFound):
            check_books(engine, ledger)
            continue
        ledger.record(engine, update)
        check_books(engine, ledger)


@settings(max_examples=50, deadline=None)
@given(script=steps)
def test_a_rolled_back_script_leaves_no_trace(script: list[Submit | Cancel | NewCandle]) -> None:
    ids = itertools.count()
    engine = PaperEngine(
        MARKETS,
        balances=[Balance(asset, amount) for asset, amount in INITIAL.items()],
        new_id=lambda: f"engine-{next(ids)}",
    )
    for symbol in SYMBOLS:
        engine.on_candle(
            make_candle(engine, NewCandle(SYMBOLS.index(symbol), False, 0, 0, 5, 5, 9), T0), T0
        )

    def state() -> tuple[object, ...]:
        return (
            engine.balances(),
            engine.open_orders(),
            [engine.last_candle(s) for s in SYMBOLS],
        )

    before = state()
    try:
        with engine.atomic():
            for number, step in enumerate(script, start=1):
                now = T0 + timedelta(minutes=number)
                try:
                    if isinstance(step, Submit):
                        engine.submit(make_order(engine, step, number, now), now)
                    elif isinstance(step, NewCandle):
                        engine.on_candle(make_candle(engine, step, now), now)
                    elif engine.open_orders():
                        engine.cancel(engine.open_orders()[0].id, now)
                except (InvalidInput, OrderRejected, NotFound):
                    pass
            raise LookupError("persisting failed")
    except LookupError:
        pass
    assert state() == before
