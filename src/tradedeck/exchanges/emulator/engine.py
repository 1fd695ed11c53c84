"""The emulator's spot matching engine: Binance's order rules, in Decimal, without I/O.

Why a separate engine. The live adapter has to be tested against what Binance really does
with an order (filters, reservations, partial fills, the exact error codes), and a test has
to drive the market by hand. Keeping the rules here, free of HTTP, lets unit tests check
them directly while the ASGI app only translates requests and responses.

Why the price is set by the test. There is no order book: a market order fills at the
symbol's last price, and a resting limit order fills when ``set_price`` moves the last price
across it (a buy at or below its limit, a sell at or above). A test that wants to see
PARTIALLY_FILLED asks for an order to fill in N steps (``fill_next_in_steps``); each price
move that reaches the order then fills one step, the last one taking the remainder.

Why funds are locked. Like Binance, an accepted order locks what it may spend (quote for a
buy at its limit price, base for a sell), and a fill moves the locked funds to the other
asset, so ``free``/``locked`` in ``GET /api/v3/account`` always add up. Commissions are
zero: the emulator checks the adapter's bookkeeping, not fee schedules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

ZERO = Decimal(0)


class BinanceError(Exception):
    """A rejection as Binance sends it: HTTP status plus ``{"code", "msg"}``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg

    def payload(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def invalid_symbol() -> BinanceError:
    return BinanceError(400, -1121, "Invalid symbol.")


def filter_failure(name: str) -> BinanceError:
    return BinanceError(400, -1013, f"Filter failure: {name}")


def insufficient_balance() -> BinanceError:
    return BinanceError(400, -2010, "Account has insufficient balance for requested action.")


def unknown_order() -> BinanceError:
    return BinanceError(400, -2011, "Unknown order sent.")


def order_does_not_exist() -> BinanceError:
    return BinanceError(400, -2013, "Order does not exist.")


def bad_parameter(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def fmt8(value: Decimal) -> str:
    """Binance's decimal strings: always eight places."""
    return f"{value:.8f}"


@dataclass(slots=True)
class EmulatorMarket:
    """One spot symbol: its assets, its filters and its last price."""

    base: str
    quote: str
    price: Decimal
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")

    @property
    def symbol(self) -> str:
        return self.base + self.quote


@dataclass(slots=True)
class Kline:
    """One candle as ``GET /api/v3/klines`` returns it."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int


@dataclass(slots=True)
class Trade:
    id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    time: int
    maker: bool
    commission_asset: str


@dataclass(slots=True)
class EmulatorOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    price: Decimal
    orig_qty: Decimal
    time: int
    time_in_force: str | None
    steps: int = 1
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    locked: Decimal = ZERO
    fills: list[Trade] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass(slots=True)
class Asset:
    free: Decimal = ZERO
    locked: Decimal = ZERO


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step == ZERO or value % step == ZERO


class SpotEngine:
    """Markets, balances, orders and trades of one emulated spot account."""

    def __init__(self, markets: list[EmulatorMarket], clock: Callable[[], int]) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.balances: dict[str, Asset] = {}
        self.orders: dict[int, EmulatorOrder] = {}
        self.trades: list[Trade] = []
        self.klines: dict[tuple[str, str], list[Kline]] = {}
        self.open_prices = {m.symbol: m.price for m in markets}
        self._clock = clock
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._next_steps = 1

    # -- setup -----------------------------------------------------------------------------

    def market(self, symbol: str) -> EmulatorMarket:
        market = self.markets.get(symbol)
        if market is None:
            raise invalid_symbol()
        return market

    def deposit(self, asset: str, amount: Decimal) -> None:
        self.balances.setdefault(asset, Asset()).free += amount

    def fill_next_in_steps(self, steps: int) -> None:
        """The next accepted order fills in ``steps`` parts (one per price move that reaches it)."""
        if steps < 1:
            raise ValueError("steps must be at least 1")
        self._next_steps = steps

    def set_klines(self, symbol: str, interval: str, klines: list[Kline]) -> None:
        self.market(symbol)
        self.klines[(symbol, interval)] = sorted(klines, key=lambda k: k.open_time)

    def set_price(self, symbol: str, price: Decimal) -> list[Trade]:
        """Move the last price and fill whatever it reaches; returns the new trades."""
        market = self.market(symbol)
        if price <= ZERO:
            raise ValueError("price must be positive")
        market.price = price
        trades: list[Trade] = []
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.symbol != symbol or not order.open:
                continue
            if order.type == "MARKET":
                trades.extend(self._fill_step(order, market, price, maker=False))
            elif (order.side == "BUY" and price <= order.price) or (
                order.side == "SELL" and price >= order.price
            ):
                trades.extend(self._fill_step(order, market, order.price, maker=True))
        return trades

    # -- queries ---------------------------------------------------------------------------

    def asset(self, name: str) -> Asset:
        return self.balances.setdefault(name, Asset())

    def find(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> EmulatorOrder | None:
        self.market(symbol)
        for order in self.orders.values():
            if order.symbol != symbol:
                continue
            if order_id is not None and order.order_id == order_id:
                return order
            if (
                order_id is None
                and client_order_id is not None
                and order.client_order_id == client_order_id
            ):
                return order
        return None

    def open_orders(self, symbol: str | None) -> list[EmulatorOrder]:
        if symbol is not None:
            self.market(symbol)
        return [
            o for o in self.orders.values() if o.open and (symbol is None or o.symbol == symbol)
        ]

    # -- commands --------------------------------------------------------------------------

    def place(
        self,
        *,
        symbol: str,
        side: str,
        type: str,
        quantity: Decimal | None,
        price: Decimal | None,
        client_order_id: str | None,
        time_in_force: str | None = None,
        quote_order_qty: Decimal | None = None,
    ) -> EmulatorOrder:
        """Validate like Binance (symbol, filters, funds), then accept and match."""
        market = self.market(symbol)
        if side not in ("BUY", "SELL"):
            raise bad_parameter("side")
        if type not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        if client_order_id is not None and any(
            o.client_order_id == client_order_id and o.open for o in self.orders.values()
        ):
            raise BinanceError(400, -2010, "Duplicate order sent.")
        if type == "MARKET" and quantity is None and quote_order_qty is not None:
            quantity = (quote_order_qty / market.price).quantize(
                market.step_size, rounding=ROUND_DOWN
            )
        if quantity is None:
            raise bad_parameter("quantity")
        if type == "LIMIT":
            if price is None:
                raise bad_parameter("price")
            if time_in_force is None:
                raise bad_parameter("timeInForce")
            if time_in_force != "GTC":
                raise BinanceError(400, -1115, "Invalid timeInForce.")
            if (
                price < market.min_price
                or price > market.max_price
                or not _multiple(price, market.tick_size)
            ):
                raise filter_failure("PRICE_FILTER")
        if (
            quantity < market.min_qty
            or quantity > market.max_qty
            or not _multiple(quantity, market.step_size)
        ):
            raise filter_failure("LOT_SIZE")
        reference = price if type == "LIMIT" and price is not None else market.price
        if quantity * reference < market.min_notional:
            raise filter_failure("NOTIONAL")
        spend_asset, need = (
            (market.quote, quantity * reference) if side == "BUY" else (market.base, quantity)
        )
        wallet = self.asset(spend_asset)
        if wallet.free < need:
            raise insufficient_balance()
        now = self._clock()
        order = EmulatorOrder(
            order_id=next(self._order_ids),
            client_order_id=client_order_id or f"emu{now}x{len(self.orders) + 1}",
            symbol=symbol,
            side=side,
            type=type,
            price=price if type == "LIMIT" and price is not None else ZERO,
            orig_qty=quantity,
            time=now,
            update_time=now,
            time_in_force=time_in_force if type == "LIMIT" else None,
            steps=self._next_steps,
            locked=need,
        )
        self._next_steps = 1
        wallet.free -= need
        wallet.locked += need
        self.orders[order.order_id] = order
        if type == "MARKET":
            self._fill_step(order, market, market.price, maker=False)
        elif (side == "BUY" and market.price <= order.price) or (
            side == "SELL" and market.price >= order.price
        ):
            # A marketable limit order takes at its own limit, like a taker at the touch.
            self._fill_step(order, market, order.price, maker=False)
        return order

    def cancel(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> EmulatorOrder:
        order = self.find(symbol, order_id, client_order_id)
        if order is None or not order.open:
            raise unknown_order()
        self._close(order, "CANCELED")
        return order

    def cancel_all(self, symbol: str) -> list[EmulatorOrder]:
        orders = self.open_orders(symbol)
        if not orders:
            raise unknown_order()
        for order in orders:
            self._close(order, "CANCELED")
        return orders

    # -- internals -------------------------------------------------------------------------

    def _fill_step(
        self, order: EmulatorOrder, market: EmulatorMarket, price: Decimal, *, maker: bool
    ) -> list[Trade]:
        filled_steps = len(order.fills)
        if filled_steps + 1 >= order.steps:
            qty = order.remaining
        else:
            qty = (order.orig_qty / order.steps).quantize(market.step_size, rounding=ROUND_DOWN)
            qty = min(max(qty, market.step_size), order.remaining)
        quote = qty * price
        base_wallet, quote_wallet = self.asset(market.base), self.asset(market.quote)
        if order.side == "BUY":
            if quote > order.locked:
                # A market buy filling in steps at a higher price draws the difference from free.
                extra = quote - order.locked
                if quote_wallet.free < extra:
                    self._close(order, "EXPIRED")
                    return []
                quote_wallet.free -= extra
                quote_wallet.locked += extra
                order.locked += extra
            quote_wallet.locked -= quote
            order.locked -= quote
            base_wallet.free += qty
            asset = market.base
        else:
            base_wallet.locked -= qty
            order.locked -= qty
            quote_wallet.free += quote
            asset = market.quote
        now = self._clock()
        trade = Trade(
            id=next(self._trade_ids),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            time=now,
            maker=maker,
            commission_asset=asset,
        )
        self.trades.append(trade)
        order.fills.append(trade)
        order.executed_qty += qty
        order.cum_quote += quote
        order.update_time = now
        if order.remaining == ZERO:
            self._close(order, "FILLED")
        else:
            order.status = "PARTIALLY_FILLED"
        return [trade]

    def _close(self, order: EmulatorOrder, status: str) -> None:
        """End an order and give back what it still holds."""
        market = self.markets[order.symbol]
        wallet = self.asset(market.quote if order.side == "BUY" else market.base)
        wallet.locked -= order.locked
        wallet.free += order.locked
        order.locked = ZERO
        order.status = status
        order.update_time = self._clock()
