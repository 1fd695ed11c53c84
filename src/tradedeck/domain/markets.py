"""Symbols and markets: every amount and price is checked against the market's rules
before it reaches an exchange, so a typo is refused locally with a reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.money import fmt, is_multiple

_SYMBOL = re.compile(r"^([A-Z0-9]{1,16})/([A-Z0-9]{1,16})$")


def parse_symbol(symbol: str) -> tuple[str, str]:
    """Split a ccxt-style symbol ``BASE/QUOTE``; lower case is accepted and upper-cased."""
    match = _SYMBOL.match(symbol.strip().upper()) if isinstance(symbol, str) else None
    if match is None:
        raise InvalidInput("invalid_symbol", f"symbol must look like ETH/BTC, got {symbol!r}")
    return match.group(1), match.group(2)


def normalize_symbol(symbol: str) -> str:
    base, quote = parse_symbol(symbol)
    return f"{base}/{quote}"


@dataclass(frozen=True, slots=True)
class Market:
    """A tradable pair and the precision rules the exchange enforces on it."""

    symbol: str
    base: str
    quote: str
    price_tick: Decimal
    amount_step: Decimal
    min_amount: Decimal
    min_notional: Decimal

    def check_amount(self, amount: Decimal) -> None:
        if amount <= 0:
            raise InvalidInput("invalid_amount", "amount must be greater than zero")
        if not is_multiple(amount, self.amount_step):
            raise InvalidInput(
                "invalid_precision",
                f"amount {fmt(amount)} has more decimals than {self.symbol} allows "
                f"(step {fmt(self.amount_step)})",
            )
        if amount < self.min_amount:
            raise InvalidInput(
                "below_min_amount",
                f"amount {fmt(amount)} is below the minimum {fmt(self.min_amount)} "
                f"{self.base} for {self.symbol}",
            )

    def check_price(self, price: Decimal, field: str = "price") -> None:
        if price <= 0:
            raise InvalidInput("invalid_price", f"{field} must be greater than zero")
        if not is_multiple(price, self.price_tick):
            raise InvalidInput(
                "invalid_precision",
                f"{field} {fmt(price)} has more decimals than {self.symbol} allows "
                f"(tick {fmt(self.price_tick)})",
            )

    def check_notional(self, amount: Decimal, price: Decimal) -> None:
        notional = amount * price
        if notional < self.min_notional:
            raise InvalidInput(
                "below_min_notional",
                f"order value {fmt(notional)} {self.quote} is below the minimum "
                f"{fmt(self.min_notional)} {self.quote} for {self.symbol}",
            )
