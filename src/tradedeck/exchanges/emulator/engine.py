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

Conditional orders (STOP_LOSS, TAKE_PROFIT and their _LIMIT forms) rest until a price move
reaches their stop price, then work as a market or limit order. An OCO (placed by ``spot_oco``)
pairs two legs under one ``orderListId``: when either leg fills or triggers, the other
expires, and cancelling either cancels both.

Why funds are locked. Like Binance, an accepted order locks what it may spend (quote for a
buy at its limit or stop price, base for a sell), and a fill moves the locked funds to the
other asset, so ``free``/``locked`` in ``GET /api/v3/account`` always add up. An OCO locks
once for the pair: the lock sits on one leg and moves to whichever leg executes.
Commissions are zero: the emulator checks the adapter's bookkeeping, not fee schedules.

Every change is announced to ``observer`` as it happens (``events``): an order accepted,
each fill, a cancel or expiry, funds locked or released, a deposit. That is what the
user-data stream pushes; without a stream nobody listens.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from tradedeck.exchanges.emulator.errors import (
    insufficient_balance,
    invalid_symbol,
    order_rejected,
    unknown_order,
)
from tradedeck.exchanges.emulator.events import (
    BalancesChanged,
    Deposited,
    SpotObserver,
    SpotOrderChanged,
    unobserved,
)
from tradedeck.exchanges.emulator.spot_models import (
    CONDITIONAL,
    PRICED,
    ZERO,
    Asset,
    EmulatorMarket,
    EmulatorOrder,
    Kline,
    OrderList,
    Trade,
)
from tradedeck.exchanges.emulator.spot_rules import (
    check_order,
    crosses,
    funds_needed,
    reference_price,
    triggers,
)


class SpotEngine:
    """Markets, balances, orders and trades of one emulated spot account."""

    def __init__(self, markets: list[EmulatorMarket], clock: Callable[[], int]) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.balances: dict[str, Asset] = {}
        self.orders: dict[int, EmulatorOrder] = {}
        self.order_lists: dict[int, OrderList] = {}
        self.trades: list[Trade] = []
        self.klines: dict[tuple[str, str], list[Kline]] = {}
        self.open_prices = {m.symbol: m.price for m in markets}
        self._clock = clock
        self._order_ids = itertools.count(1)
        self._list_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._next_steps = 1
        self.observer: SpotObserver = unobserved

    # -- setup -----------------------------------------------------------------------------

    def market(self, symbol: str) -> EmulatorMarket:
        market = self.markets.get(symbol)
        if market is None:
            raise invalid_symbol()
        return market

    def deposit(self, asset: str, amount: Decimal) -> None:
        self.balances.setdefault(asset, Asset()).free += amount
        self.observer(Deposited(asset, amount))

    def fill_next_in_steps(self, steps: int) -> None:
        """The next accepted order fills in ``steps`` parts (one per price move that reaches it)."""
        if steps < 1:
            raise ValueError("steps must be at least 1")
        self._next_steps = steps

    def set_klines(self, symbol: str, interval: str, klines: list[Kline]) -> None:
        self.market(symbol)
        self.klines[(symbol, interval)] = sorted(klines, key=lambda k: k.open_time)

    def set_price(self, symbol: str, price: Decimal) -> list[Trade]:
        """Move the last price, trigger and fill whatever it reaches; returns the new trades."""
        market = self.market(symbol)
        if price <= ZERO:
            raise ValueError("price must be positive")
        market.price = price
        trades: list[Trade] = []
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.symbol != symbol or not order.open:
                continue  # an OCO leg may have expired earlier in this loop
            resting = order.working
            if not resting:
                if not triggers(order.type, order.side, order.stop_price, price):
                    continue
                self._trigger(order)
            if order.takes_market_price:
                trades.extend(self._fill_step(order, market, price, maker=False))
            elif crosses(order.side, order.price, price):
                trades.extend(self._fill_step(order, market, order.price, maker=resting))
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

    def find_list(self, order_list_id: int | None, client_id: str | None) -> OrderList | None:
        for order_list in self.order_lists.values():
            if order_list_id is not None and order_list.order_list_id == order_list_id:
                return order_list
            if order_list_id is None and order_list.list_client_order_id == client_id:
                return order_list
        return None

    def open_orders(self, symbol: str | None) -> list[EmulatorOrder]:
        if symbol is not None:
            self.market(symbol)
        return [
            o for o in self.orders.values() if o.open and (symbol is None or o.symbol == symbol)
        ]

    def legs(self, order_list: OrderList) -> list[EmulatorOrder]:
        return [self.orders[i] for i in order_list.order_ids]

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
        stop_price: Decimal | None = None,
    ) -> EmulatorOrder:
        """Validate like Binance (symbol, filters, funds), then accept and match."""
        market = self.market(symbol)
        self.check_client_id(client_order_id)
        if type == "MARKET" and quantity is None and quote_order_qty is not None:
            quantity = (quote_order_qty / market.price).quantize(
                market.step_size, rounding=ROUND_DOWN
            )
        quantity = check_order(
            market,
            side=side,
            type=type,
            quantity=quantity,
            price=price,
            stop_price=stop_price,
            time_in_force=time_in_force,
        )
        if (
            type in CONDITIONAL
            and stop_price is not None
            and triggers(type, side, stop_price, market.price)
        ):
            raise order_rejected("Stop price would trigger immediately.")
        if type == "LIMIT_MAKER" and price is not None and crosses(side, price, market.price):
            raise order_rejected("Order would immediately match and take.")
        asset, need = funds_needed(
            market, side, quantity, reference_price(market, type, price, stop_price)
        )
        self.lock(asset, need)
        order = self.accept(
            market, side, type, quantity, price, stop_price, time_in_force, client_order_id
        )
        order.locked = need
        if order.takes_market_price and order.working:
            self._fill_step(order, market, market.price, maker=False)
        elif order.working and crosses(side, order.price, market.price):
            # A marketable limit order takes at its own limit, like a taker at the touch.
            self._fill_step(order, market, order.price, maker=False)
        return order

    def cancel(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> EmulatorOrder:
        """Cancel an open order; cancelling one leg of an OCO cancels the whole list."""
        order = self.find(symbol, order_id, client_order_id)
        if order is None or not order.open:
            raise unknown_order()
        for each in self._with_siblings(order):
            self._close(each, "CANCELED")
        return order

    def cancel_list(self, order_list: OrderList) -> list[EmulatorOrder]:
        legs = self.legs(order_list)
        if not any(leg.open for leg in legs):
            raise unknown_order()
        for leg in legs:
            if leg.open:
                self._close(leg, "CANCELED")
        return legs

    def cancel_all(self, symbol: str) -> list[EmulatorOrder]:
        orders = self.open_orders(symbol)
        if not orders:
            raise unknown_order()
        for order in orders:
            self._close(order, "CANCELED")
        return orders

    def fill(self, order: EmulatorOrder) -> list[Trade]:
        """Fill an open order completely at its own price (a stop at its stop price)."""
        if not order.open:
            raise unknown_order()
        market = self.markets[order.symbol]
        if not order.working:
            self._trigger(order)
        if order.type in PRICED:
            price = order.price
        elif order.type in CONDITIONAL:
            price = order.stop_price
        else:
            price = market.price
        order.steps = len(order.fills) + 1
        return self._fill_step(order, market, price, maker=order.type in PRICED)

    # -- building blocks of placing (shared with spot_oco) ----------------------------------

    def check_client_id(self, client_order_id: str | None) -> None:
        if client_order_id is not None and any(
            o.client_order_id == client_order_id and o.open for o in self.orders.values()
        ):
            raise order_rejected("Duplicate order sent.")

    def lock(self, asset: str, need: Decimal) -> None:
        wallet = self.asset(asset)
        if wallet.free < need:
            raise insufficient_balance()
        wallet.free -= need
        wallet.locked += need
        self.observer(BalancesChanged((asset,)))

    def accept(
        self,
        market: EmulatorMarket,
        side: str,
        type: str,
        quantity: Decimal,
        price: Decimal | None,
        stop_price: Decimal | None,
        time_in_force: str | None,
        client_order_id: str | None,
    ) -> EmulatorOrder:
        now = self._clock()
        working = type not in CONDITIONAL
        order = EmulatorOrder(
            order_id=next(self._order_ids),
            client_order_id=client_order_id or f"emu{now}x{len(self.orders) + 1}",
            symbol=market.symbol,
            side=side,
            type=type,
            price=price if type in PRICED and price is not None else ZERO,
            orig_qty=quantity,
            time=now,
            update_time=now,
            time_in_force=time_in_force if type in PRICED else None,
            steps=self._next_steps,
            stop_price=stop_price if type in CONDITIONAL and stop_price is not None else ZERO,
            working=working,
            working_time=now if working else -1,
        )
        self._next_steps = 1
        self.orders[order.order_id] = order
        self.observer(SpotOrderChanged(order, "NEW"))
        return order

    def add_list(self, legs: list[EmulatorOrder], list_client_order_id: str | None) -> OrderList:
        """Link accepted legs under a new ``orderListId``."""
        now = self._clock()
        order_list = OrderList(
            order_list_id=next(self._list_ids),
            list_client_order_id=list_client_order_id or f"emuList{now}",
            symbol=legs[0].symbol,
            order_ids=(legs[0].order_id, legs[1].order_id),
            time=now,
        )
        for leg in legs:
            leg.order_list_id = order_list.order_list_id
        self.order_lists[order_list.order_list_id] = order_list
        return order_list

    # -- internals -------------------------------------------------------------------------

    def _with_siblings(self, order: EmulatorOrder) -> list[EmulatorOrder]:
        order_list = self.order_lists.get(order.order_list_id)
        if order_list is None:
            return [order]
        return [leg for leg in self.legs(order_list) if leg.open]

    def _take_over(self, order: EmulatorOrder) -> None:
        """An OCO leg executes: it takes the pair's lock and its sibling expires."""
        for sibling in self._with_siblings(order):
            if sibling is not order:
                order.locked += sibling.locked
                sibling.locked = ZERO
                self._close(sibling, "EXPIRED")

    def _trigger(self, order: EmulatorOrder) -> None:
        self._take_over(order)
        order.working = True
        order.working_time = order.update_time = self._clock()

    def _fill_step(
        self, order: EmulatorOrder, market: EmulatorMarket, price: Decimal, *, maker: bool
    ) -> list[Trade]:
        self._take_over(order)
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
            order_list_id=order.order_list_id,
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
        self.observer(SpotOrderChanged(order, "TRADE", trade))
        self.observer(BalancesChanged((market.base, market.quote)))
        return [trade]

    def _close(self, order: EmulatorOrder, status: str) -> None:
        """End an order and give back what it still holds (a fill announces itself)."""
        market = self.markets[order.symbol]
        asset = market.quote if order.side == "BUY" else market.base
        wallet = self.asset(asset)
        released = order.locked
        wallet.locked -= released
        wallet.free += released
        order.locked = ZERO
        order.status = status
        order.update_time = self._clock()
        if status != "FILLED":
            self.observer(SpotOrderChanged(order, status))
            if released:
                self.observer(BalancesChanged((asset,)))
