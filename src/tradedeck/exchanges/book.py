"""The reads the order manager makes of any exchange, answered from memory.

The paper engine and the live exchange's mirror hold the same four things (markets, the
latest candle per market, balances, open orders), and every risk check, preview and view
reads them without waiting on anything. One implementation serves both, so a live account
reads exactly as a paper one does. Everything handed out is a copy the caller may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from mypy_extensions import mypyc_attr

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.markets import Market
from tradedeck.domain.orders import Order


@mypyc_attr(allow_interpreted_subclasses=True)  # the live exchange's mirror is interpreted
class BookReads:
    _markets: dict[str, Market]
    _candles: dict[str, Candle]
    _balances: dict[str, Balance]
    _open: dict[str, Order]
    venue = "the exchange"  # how a refusal names it

    @property
    def markets(self) -> Mapping[str, Market]:
        return MappingProxyType(self._markets)

    def market(self, symbol: str) -> Market:
        market = self._markets.get(symbol)
        if market is None:
            raise InvalidInput("unknown_symbol", f"{self.venue} has no market {symbol}")
        return market

    def last_price(self, symbol: str) -> Decimal | None:
        candle = self._candles.get(symbol)
        return None if candle is None else candle.close

    def last_candle(self, symbol: str) -> Candle | None:
        return self._candles.get(symbol)

    def balance(self, asset: str) -> Balance:
        balance = self._balances.get(asset)
        return Balance(asset) if balance is None else balance.copy()

    def balances(self) -> list[Balance]:
        return [self._balances[asset].copy() for asset in sorted(self._balances)]

    def totals(self) -> dict[str, Decimal]:
        """Each asset's total (free + reserved), in asset order: what a valuation needs,
        without copying the balances (every order's risk check asks)."""
        balances = self._balances
        return {asset: balances[asset].total for asset in sorted(balances)}

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o.copy() for o in self._open.values() if symbol is None or o.symbol == symbol]

    def get_order(self, order_id: str) -> Order | None:
        order = self._open.get(order_id)
        return None if order is None else order.copy()
