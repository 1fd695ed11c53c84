"""The emulator's USDⓈ-M futures engine: one-way positions on a USDT wallet, without I/O.

Why its own engine. Futures settle differently from spot: nothing is bought, a fill moves a
signed position, margin is reserved instead of funds, closing realizes PnL into the wallet
and every fill pays a fee. The rules Binance enforces on that (leverage and margin type per
symbol, -2019 when the initial margin exceeds what is available, -2022 when a reduce-only
order would open or flip a position) live here, free of HTTP, as in the spot engine.

How prices drive it. As on spot, the test sets the last price: market orders fill at it,
limit orders fill at their limit when it crosses them (``fill_next_in_steps`` gives
partial fills), and conditional (algo) orders trigger when it reaches their trigger price,
then place a market or limit order under the algo order's client id.

Fees: taker 0.05 %, maker 0.02 % of the fill's notional, in USDT, out of the wallet.
The margin arithmetic is in ``futures_margin``.

As on spot, every change is announced to ``observer`` (``events``): an order accepted,
each fill with the wallet and position it moved, a cancel or expiry, a deposit; the algo
book announces its own orders.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from tradedeck.exchanges.emulator import futures_margin as fm
from tradedeck.exchanges.emulator.errors import (
    BinanceError,
    bad_parameter,
    duplicate_client_order_id,
    invalid_order_type,
    invalid_symbol,
    margin_insufficient,
    reduce_only_rejected,
    unknown_order,
    use_algo_endpoint,
)
from tradedeck.exchanges.emulator.events import (
    AccountChanged,
    AlgoChanged,
    FuturesObserver,
    FuturesOrderChanged,
    unobserved,
)
from tradedeck.exchanges.emulator.futures_algo import AlgoBook
from tradedeck.exchanges.emulator.futures_models import (
    ALGO_TYPES,
    ZERO,
    AlgoOrder,
    FuturesMarket,
    FuturesOrder,
    FuturesTrade,
    Position,
)
from tradedeck.exchanges.emulator.futures_rules import (
    check_limit,
    check_notional,
    check_quantity,
    check_side,
    crosses,
)
from tradedeck.exchanges.emulator.spot_models import Kline

MAKER_FEE = Decimal("0.0002")
TAKER_FEE = Decimal("0.0005")


class FuturesEngine:
    """Perpetuals, positions, orders, algo orders and trades of one futures account."""

    def __init__(self, markets: list[FuturesMarket], clock: Callable[[], int]) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.positions = {m.symbol: Position(m.symbol) for m in markets}
        self.wallet = ZERO  # USDT: deposits + realized PnL - fees (isolated margins included)
        self.wallet_update_time = 0
        self.orders: dict[int, FuturesOrder] = {}
        self.algo = AlgoBook(clock)
        self.trades: list[FuturesTrade] = []
        self.klines: dict[tuple[str, str], list[Kline]] = {}
        self.open_prices = {m.symbol: m.price for m in markets}
        self._clock = clock
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._next_steps = 1
        self.observer: FuturesObserver = unobserved

    # -- setup -----------------------------------------------------------------------------

    def market(self, symbol: str) -> FuturesMarket:
        market = self.markets.get(symbol)
        if market is None:
            raise invalid_symbol()
        return market

    def deposit(self, amount: Decimal) -> None:
        self.wallet += amount
        self.wallet_update_time = self._clock()
        self.observer(AccountChanged("DEPOSIT", balance_change=amount))

    def fill_next_in_steps(self, steps: int) -> None:
        """The next accepted order fills in ``steps`` parts (one per price move that reaches it)."""
        if steps < 1:
            raise ValueError("steps must be at least 1")
        self._next_steps = steps

    def set_klines(self, symbol: str, interval: str, klines: list[Kline]) -> None:
        self.market(symbol)
        self.klines[(symbol, interval)] = sorted(klines, key=lambda k: k.open_time)

    def set_leverage(self, symbol: str, leverage: int) -> Position:
        market = self.market(symbol)
        if not 1 <= leverage <= market.max_leverage:
            raise BinanceError(400, -4028, f"Leverage {leverage} is not valid")
        position = self.positions[symbol]
        position.leverage = leverage
        return position

    def set_margin_type(self, symbol: str, margin_type: str) -> Position:
        self.market(symbol)
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise bad_parameter("marginType")
        position = self.positions[symbol]
        if position.margin_type == margin_type:
            raise BinanceError(400, -4046, "No need to change margin type.")
        if position.amount != ZERO:
            raise BinanceError(
                400, -4048, "Margin type cannot be changed if there exists position."
            )
        if self.open_orders(symbol):
            raise BinanceError(
                400, -4047, "Margin type cannot be changed if there exists open orders."
            )
        position.margin_type = margin_type
        return position

    def set_price(self, symbol: str, price: Decimal) -> list[FuturesTrade]:
        """Move the last price: trigger algo orders, fill what it reaches; returns new trades."""
        market = self.market(symbol)
        if price <= ZERO:
            raise ValueError("price must be positive")
        market.price = price
        resting = sorted(
            (o for o in self.orders.values() if o.symbol == symbol and o.open),
            key=lambda o: o.order_id,
        )
        trades: list[FuturesTrade] = []
        for algo in self.algo.due(symbol, price):
            trades.extend(self._trigger(algo))
        for order in resting:
            if not order.open:
                continue
            if order.type == "MARKET":
                trades.extend(self._fill_step(order, price, maker=False))
            elif crosses(order.side, order.price, price):
                trades.extend(self._fill_step(order, order.price, maker=True))
        return trades

    # -- queries ---------------------------------------------------------------------------

    def find(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> FuturesOrder | None:
        self.market(symbol)
        for order in self.orders.values():
            if order.symbol == symbol and (
                order.order_id == order_id
                if order_id is not None
                else order.client_order_id == client_order_id
            ):
                return order
        return None

    def open_orders(self, symbol: str | None) -> list[FuturesOrder]:
        if symbol is not None:
            self.market(symbol)
        return [o for o in self.orders.values() if o.open and symbol in (None, o.symbol)]

    def cross_wallet(self) -> Decimal:
        return self.wallet - sum((p.isolated_wallet for p in self.positions.values()), ZERO)

    def open_order_margin(self) -> Decimal:
        return sum(
            (
                fm.margin_for(
                    fm.exposure_added(self.positions[o.symbol], o.side, o.remaining),
                    o.price if o.type == "LIMIT" else self.markets[o.symbol].price,
                    self.positions[o.symbol].leverage,
                )
                for o in self.open_orders(None)
                if not o.reduce_only
            ),
            ZERO,
        )

    def available(self) -> Decimal:
        """Cross wallet plus cross PnL, minus cross positions' and open orders' margin."""
        cross = [p for p in self.positions.values() if not p.isolated and p.amount != ZERO]
        pnl = sum((fm.unrealized_pnl(p, self.markets[p.symbol]) for p in cross), ZERO)
        held = sum((fm.initial_margin(p, self.markets[p.symbol]) for p in cross), ZERO)
        return self.cross_wallet() + pnl - held - self.open_order_margin()

    def liquidation_price(self, position: Position) -> Decimal:
        margin = position.isolated_wallet if position.isolated else self.cross_wallet()
        return fm.liquidation_price(position, self.markets[position.symbol], margin)

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
        reduce_only: bool = False,
    ) -> FuturesOrder:
        """A MARKET or LIMIT order through Binance's checks, then accepted and matched."""
        market = self.market(symbol)
        check_side(side)
        if type in ALGO_TYPES or type == "TRAILING_STOP_MARKET":
            raise use_algo_endpoint()
        if type not in ("MARKET", "LIMIT"):
            raise invalid_order_type()
        if client_order_id is not None and any(
            o.client_order_id == client_order_id for o in self.open_orders(None)
        ):
            raise duplicate_client_order_id()
        if quantity is None:
            raise bad_parameter("quantity")
        if type == "LIMIT":
            price = check_limit(market, price, time_in_force)
        check_quantity(market, quantity, market_order=type == "MARKET")
        reference = price if price is not None and type == "LIMIT" else market.price
        if not reduce_only:
            check_notional(market, quantity, reference)
        return self._submit(
            market,
            side=side,
            type=type,
            quantity=quantity,
            price=price if type == "LIMIT" else None,
            client_order_id=client_order_id or f"emuF{self._clock()}x{len(self.orders) + 1}",
            reduce_only=reduce_only,
        )

    def cancel(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> FuturesOrder:
        order = self.find(symbol, order_id, client_order_id)
        if order is None or not order.open:
            raise unknown_order()
        self._close(order, "CANCELED")
        return order

    def cancel_all(self, symbol: str) -> list[FuturesOrder]:
        orders = self.open_orders(symbol)
        for order in orders:
            self._close(order, "CANCELED")
        return orders

    def fill(self, order: FuturesOrder) -> list[FuturesTrade]:
        """Fill an open order completely at its limit (a market order at the last price)."""
        if not order.open:
            raise unknown_order()
        order.steps = len(order.fills) + 1
        price = order.price if order.type == "LIMIT" else self.markets[order.symbol].price
        return self._fill_step(order, price, maker=order.type == "LIMIT")

    def fill_algo(self, algo: AlgoOrder) -> list[FuturesTrade]:
        """Trigger an algo order now and fill what it places at the algo order's own price."""
        if not algo.open:
            raise unknown_order()
        trades = self._trigger(algo, fill_at=algo.price or algo.trigger_price)
        if algo.actual_order_id is not None and self.orders[algo.actual_order_id].open:
            trades.extend(self.fill(self.orders[algo.actual_order_id]))
        return trades

    # -- internals -------------------------------------------------------------------------

    def _submit(
        self,
        market: FuturesMarket,
        *,
        side: str,
        type: str,
        quantity: Decimal,
        price: Decimal | None,
        client_order_id: str,
        reduce_only: bool,
        algo: AlgoOrder | None = None,
        fill_at: Decimal | None = None,
    ) -> FuturesOrder:
        """Check reduce-only and margin, accept, and take liquidity if marketable."""
        position = self.positions[market.symbol]
        reference = price if price is not None else fill_at or market.price
        if reduce_only:
            if quantity > fm.reducible(position, side):
                raise reduce_only_rejected()
        else:
            needed = fm.margin_for(
                fm.exposure_added(position, side, quantity), reference, position.leverage
            )
            closing = min(quantity, fm.reducible(position, side))
            if needed > self.available() + fm.released_margin(position, market, closing):
                raise margin_insufficient()
        now = self._clock()
        order = FuturesOrder(
            order_id=next(self._order_ids),
            client_order_id=client_order_id,
            symbol=market.symbol,
            side=side,
            type=type,
            orig_type=algo.order_type if algo is not None else type,
            price=price if price is not None else ZERO,
            orig_qty=quantity,
            time=now,
            update_time=now,
            time_in_force="GTC",
            reduce_only=reduce_only,
            close_position=algo.close_position if algo is not None else False,
            stop_price=algo.trigger_price if algo is not None else ZERO,
            algo_id=algo.algo_id if algo is not None else None,
            steps=self._next_steps,
        )
        self._next_steps = 1
        self.orders[order.order_id] = order
        self.observer(FuturesOrderChanged(order, "NEW"))
        if type == "MARKET":
            self._fill_step(order, reference, maker=False)
        elif crosses(side, order.price, market.price):
            self._fill_step(order, order.price, maker=False)
        return order

    def _trigger(self, algo: AlgoOrder, fill_at: Decimal | None = None) -> list[FuturesTrade]:
        """Place the algo order's plain order; it expires if that order is refused."""
        algo.trigger_time = algo.update_time = self._clock()
        position = self.positions[algo.symbol]
        quantity = fm.reducible(position, algo.side) if algo.close_position else algo.quantity
        limit = algo.order_type in ("STOP", "TAKE_PROFIT")
        try:
            if quantity == ZERO:
                raise reduce_only_rejected()
            order = self._submit(
                self.markets[algo.symbol],
                side=algo.side,
                type="LIMIT" if limit else "MARKET",
                quantity=quantity,
                price=algo.price if limit else None,
                client_order_id=algo.client_algo_id,
                reduce_only=algo.reduce_only or algo.close_position,
                algo=algo,
                fill_at=fill_at,
            )
        except BinanceError:
            self.algo.end(algo, "EXPIRED")
            return []
        algo.actual_order_id = order.order_id
        if order.open:
            algo.status = "TRIGGERED"
            self.algo.observer(AlgoChanged(algo))
        return list(order.fills)

    def _fill_step(self, order: FuturesOrder, price: Decimal, *, maker: bool) -> list[FuturesTrade]:
        market = self.markets[order.symbol]
        position = self.positions[order.symbol]
        if len(order.fills) + 1 >= order.steps:
            qty = order.remaining
        else:
            qty = (order.orig_qty / order.steps).quantize(market.step_size, rounding=ROUND_DOWN)
            qty = min(max(qty, market.step_size), order.remaining)
        if order.reduce_only:
            qty = min(qty, fm.reducible(position, order.side))
            if qty == ZERO:
                self._close(order, "EXPIRED")
                return []
        trade = self._execute(order, position, market, qty, price, maker)
        order.fills.append(trade)
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.update_time = trade.time
        if order.remaining == ZERO:
            self._close(order, "FILLED")
        else:
            order.status = "PARTIALLY_FILLED"
        self.observer(FuturesOrderChanged(order, "TRADE", trade))
        self.observer(AccountChanged("ORDER", order.symbol))
        if order.open and order.reduce_only and fm.reducible(position, order.side) == ZERO:
            self._close(order, "EXPIRED")
        return [trade]

    def _execute(
        self,
        order: FuturesOrder,
        position: Position,
        market: FuturesMarket,
        qty: Decimal,
        price: Decimal,
        maker: bool,
    ) -> FuturesTrade:
        """Book one fill: the position moves, realized PnL and the fee hit the wallet."""
        realized = fm.apply_fill(position, order.side, qty, price)
        fee = (qty * price * (MAKER_FEE if maker else TAKER_FEE)).quantize(fm.EIGHT_PLACES)
        self.wallet += realized - fee
        now = self._clock()
        position.update_time = self.wallet_update_time = now
        trade = FuturesTrade(
            id=next(self._trade_ids),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            realized_pnl=realized,
            commission=fee,
            time=now,
            maker=maker,
        )
        self.trades.append(trade)
        return trade

    def _close(self, order: FuturesOrder, status: str) -> None:
        order.status = status
        order.update_time = self._clock()
        if status != "FILLED":
            self.observer(FuturesOrderChanged(order, status))
        if order.algo_id is not None:
            self.algo.end(self.algo.orders[order.algo_id], "FINISHED")
