"""Values assets in one currency so limits and equity compare like with like.

An asset is priced through a market that pairs it directly with the valuation currency
(either way round); assets with no such market are reported as unvalued, not guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tradedeck.domain.balances import Balance
from tradedeck.domain.markets import Market
from tradedeck.domain.money import ONE, ZERO


@dataclass(frozen=True, slots=True)
class Equity:
    currency: str
    total: Decimal
    by_asset: dict[str, Decimal]
    unvalued: tuple[str, ...]


class Valuator:
    def __init__(
        self,
        markets: Mapping[str, Market],
        last_price: Callable[[str], Decimal | None],
        currency: str,
    ) -> None:
        self.currency = currency
        self._last_price = last_price
        self._direct: dict[str, str] = {}
        self._inverse: dict[str, str] = {}
        for market in markets.values():
            if market.quote == currency:
                self._direct[market.base] = market.symbol
            elif market.base == currency:
                self._inverse[market.quote] = market.symbol

    def price(self, asset: str) -> Decimal | None:
        """Value of one unit of ``asset`` in the valuation currency, if it can be known."""
        if asset == self.currency:
            return ONE
        if asset in self._direct:
            return self._last_price(self._direct[asset])
        if asset in self._inverse:
            price = self._last_price(self._inverse[asset])
            return ONE / price if price else None
        return None

    def value(self, asset: str, amount: Decimal) -> Decimal | None:
        price = self.price(asset)
        return None if price is None else amount * price

    def total(self, amounts: Mapping[str, Decimal]) -> Decimal:
        """What :meth:`equity` totals for these asset amounts, in the same order, without
        the breakdown (every order's risk check needs it, so it builds nothing else)."""
        total = ZERO
        for asset, amount in amounts.items():
            if amount:
                value = self.value(asset, amount)
                if value is not None:
                    total += value
        return total

    def equity(self, balances: Iterable[Balance]) -> Equity:
        by_asset: dict[str, Decimal] = {}
        unvalued: list[str] = []
        for balance in balances:
            if balance.total == 0:
                continue
            value = self.value(balance.asset, balance.total)
            if value is None:
                unvalued.append(balance.asset)
            else:
                by_asset[balance.asset] = value
        return Equity(self.currency, sum(by_asset.values(), ZERO), by_asset, tuple(unvalued))
