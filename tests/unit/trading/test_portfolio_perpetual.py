"""What the portfolio shows on a perpetual exchange: the exchange's positions, shorts as
shorts, and their unrealized PnL in the summary; spot keeps showing the order manager's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradedeck.domain.balances import Balance
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market
from tradedeck.domain.positions import Position
from tradedeck.domain.roles import Actor, Role
from tradedeck.exchanges.ccxt_live.models import (
    FuturesPosition,
    LiveMarket,
    MarginMode,
    MarketKind,
)
from tradedeck.trading.portfolio import PortfolioService, PositionSide
from tradedeck.trading.valuation import Valuator

VIEWER = Actor(name="vera", role=Role.VIEWER, channel="api")
STEP = Decimal("0.001")


def market(symbol: str) -> Market:
    base, quote = symbol.split("/")
    return Market(symbol, base, quote, Decimal("0.1"), STEP, STEP, Decimal(5))


class Client:
    """The contract specs the live client knows (size per contract)."""

    def __init__(self, sizes: dict[str, Decimal]) -> None:
        self.sizes = sizes

    def market(self, symbol: str) -> LiveMarket:
        if symbol not in self.sizes:
            raise InvalidInput("unknown_symbol", f"{symbol} is not a perpetual market")
        return LiveMarket(
            market(symbol),
            MarketKind.PERPETUAL,
            f"{symbol}:USDT",
            symbol.replace("/", ""),
            contract_size=self.sizes[symbol],
        )


@dataclass
class Exchange:
    """A live mirror as the portfolio reads it: markets, last prices, balances and (on
    perpetuals) the positions the exchange last reported."""

    kind: MarketKind
    prices: dict[str, Decimal]
    held: list[FuturesPosition] = field(default_factory=list)
    sizes: dict[str, Decimal] = field(default_factory=dict)
    usdt: Decimal = Decimal(10000)

    @property
    def markets(self) -> dict[str, Market]:
        return {s: market(s) for s in self.prices}

    @property
    def client(self) -> Client:
        return Client(self.sizes)

    def market(self, symbol: str) -> Market:
        return self.markets[symbol]

    def last_price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    def balances(self) -> list[Balance]:
        return [Balance("USDT", free=self.usdt)]

    def futures_positions(self) -> list[FuturesPosition]:
        return list(self.held)


@dataclass
class Orders:
    exchange: Exchange
    spot: list[Position] = field(default_factory=list)

    def positions(self) -> list[Position]:
        return list(self.spot)

    def position(self, symbol: str) -> Position | None:
        return next((p for p in self.spot if p.symbol == symbol), None)


class Repository:
    async def list_fills(self, **_: Any) -> list[Any]:
        return []


def perpetual_position(
    symbol: str,
    contracts: str,
    entry: str,
    mark: str | None,
    pnl: str,
    liquidation: str | None = None,
    leverage: int | None = 5,
    mode: MarginMode | None = MarginMode.ISOLATED,
) -> FuturesPosition:
    return FuturesPosition(
        symbol=symbol,
        contracts=Decimal(contracts),
        entry_price=Decimal(entry),
        mark_price=None if mark is None else Decimal(mark),
        liquidation_price=None if liquidation is None else Decimal(liquidation),
        unrealized_pnl=Decimal(pnl),
        leverage=leverage,
        margin_mode=mode,
    )


def portfolio(exchange: Exchange, spot: list[Position] | None = None) -> PortfolioService:
    valuator = Valuator(exchange.markets, exchange.last_price, "USDT")
    orders = Orders(exchange, spot or [])
    return PortfolioService(orders, Repository(), valuator, lambda: None)  # type: ignore[arg-type]


def btc_and_eth(*held: FuturesPosition) -> Exchange:
    """A perpetual account on BTC (last 29000) and ETH (2100) holding ``held``."""
    prices = {"BTC/USDT": Decimal(29000), "ETH/USDT": Decimal(2100)}
    return Exchange(MarketKind.PERPETUAL, prices, held=list(held))


OPENED = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_short_and_a_long_are_shown_as_the_exchange_reports_them() -> None:
    exchange = Exchange(
        MarketKind.PERPETUAL,
        {"BTC/USDT": Decimal(29000), "ETH/USDT": Decimal(2100)},
        held=[
            perpetual_position("BTC/USDT", "-0.1", "30000", "29000", "100", "35800"),
            perpetual_position("ETH/USDT", "2", "2000", "2100", "200", "1700", 3, MarginMode.CROSS),
        ],
        sizes={"BTC/USDT": Decimal(1), "ETH/USDT": Decimal(1)},
    )
    short, long = portfolio(exchange).positions(VIEWER)

    assert short.symbol == "BTC/USDT" and short.side is PositionSide.SHORT
    assert short.amount == Decimal("0.1")  # positive: the side says which way
    assert short.average_entry == Decimal(30000)
    assert short.mark_price == Decimal(29000)
    assert short.unrealized_pnl == Decimal(100)
    assert short.liquidation_price == Decimal(35800)
    assert (short.leverage, short.margin_mode) == (5, "isolated")
    assert short.market_type is MarketKind.PERPETUAL
    assert short.value == Decimal(2900)  # the notional at the mark, in USDT
    assert short.quote == "USDT" and short.realized_pnl is None and short.opened_at is None

    assert long.side is PositionSide.LONG and long.amount == Decimal(2)
    assert (long.leverage, long.margin_mode) == (3, "cross")
    assert long.value == Decimal(4200)


def test_on_perpetuals_the_order_managers_own_positions_are_not_shown() -> None:
    """Fills rebuild a spot-style position (a closed short even looks like a long): the
    exchange's list is the truth, including when it holds nothing."""
    ghost = Position("BTC/USDT", Decimal("0.1"), Decimal(30000), opened_at=OPENED)
    exchange = Exchange(MarketKind.PERPETUAL, {"BTC/USDT": Decimal(31000)})
    assert portfolio(exchange, [ghost]).positions(VIEWER) == []


def test_our_books_add_the_realized_pnl_and_the_opening_time() -> None:
    """Our netted position knows what the exchange's does not: the PnL realized on the
    market and, when it points the same way as the exchange's, when it was opened."""
    short = Position(
        "BTC/USDT",
        Decimal("-0.1"),
        Decimal(30000),
        realized_pnl=Decimal(12),
        opened_at=OPENED,
        shortable=True,
    )
    flipped = Position("ETH/USDT", Decimal(1), Decimal(2000), realized_pnl=Decimal(-3))
    exchange = btc_and_eth(
        perpetual_position("BTC/USDT", "-0.1", "30000", "29000", "100"),
        perpetual_position("ETH/USDT", "-2", "2000", "2100", "-200"),
    )
    btc, eth = portfolio(exchange, [short, flipped]).positions(VIEWER)
    assert (btc.realized_pnl, btc.opened_at) == (Decimal(12), OPENED)
    # Our books hold ETH long while the exchange holds it short: not the same position.
    assert (eth.realized_pnl, eth.opened_at) == (Decimal(-3), None)


def test_the_notional_counts_the_contract_size_and_is_unknown_without_it() -> None:
    exchange = Exchange(
        MarketKind.PERPETUAL,
        {"BTC/USDT": Decimal(30000)},
        held=[
            perpetual_position("BTC/USDT", "-3", "30000", "30000", "0"),
            perpetual_position("DOGE/USDT", "1000", "0.1", "0.12", "20", leverage=None, mode=None),
        ],
        sizes={"BTC/USDT": Decimal("0.001")},
    )
    btc, doge = portfolio(exchange).positions(VIEWER)
    assert btc.value == Decimal(90)  # 3 contracts of 0.001 BTC at 30000
    assert doge.value is None  # the client has no specs for it: not guessed
    assert doge.quote == "USDT"  # read off the symbol: tradedeck does not list the market
    assert (doge.leverage, doge.margin_mode, doge.liquidation_price) == (None, None, None)


def test_without_a_mark_the_last_price_is_used_for_the_notional() -> None:
    exchange = Exchange(
        MarketKind.PERPETUAL,
        {"BTC/USDT": Decimal(31000)},
        held=[perpetual_position("BTC/USDT", "0.2", "30000", None, "0")],
        sizes={"BTC/USDT": Decimal(1)},
    )
    [view] = portfolio(exchange).positions(VIEWER)
    assert view.mark_price is None and view.last_price == Decimal(31000)
    assert view.value == Decimal(6200)


async def test_the_summary_counts_the_exchanges_unrealized_pnl_and_not_the_ghosts() -> None:
    ghost = Position(
        "BTC/USDT", Decimal("0.1"), Decimal(20000), realized_pnl=Decimal(7), opened_at=OPENED
    )
    exchange = btc_and_eth(
        perpetual_position("BTC/USDT", "-0.1", "30000", "29000", "100"),
        perpetual_position("ETH/USDT", "1", "2200", "2100", "-100.5"),
    )
    summary = await portfolio(exchange, [ghost]).summary(VIEWER)
    assert summary.unrealized == Decimal("-0.5")  # +100 on the short, -100.5 on the long
    assert summary.realized == Decimal(7)  # from our fills, as on spot
    assert summary.total == Decimal("6.5")
    assert summary.today == Decimal("-0.5")
    assert summary.equity == Decimal(10000)


async def test_spot_keeps_the_order_managers_positions_and_their_fields() -> None:
    held = Position(
        "BTC/USDT", Decimal("0.5"), Decimal(20000), realized_pnl=Decimal(3), opened_at=OPENED
    )
    exchange = Exchange(
        MarketKind.SPOT,
        {"BTC/USDT": Decimal(30000)},
        held=[perpetual_position("BTC/USDT", "-1", "1", "1", "999")],  # must be ignored
    )
    service = portfolio(exchange, [held])
    [view] = service.positions(VIEWER)
    assert view.side is PositionSide.LONG and view.market_type is MarketKind.SPOT
    assert view.amount == Decimal("0.5") and view.unrealized_pnl == Decimal(5000)
    assert view.realized_pnl == Decimal(3) and view.value == Decimal(15000)
    assert view.opened_at == OPENED
    assert (view.mark_price, view.liquidation_price, view.leverage, view.margin_mode) == (
        None,
        None,
        None,
        None,
    )
    assert (await service.summary(VIEWER)).unrealized == Decimal(5000)
