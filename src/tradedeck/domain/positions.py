"""Positions: average entry and realized PnL, net of fees.

A buy's fee raises the cost basis, a sell's fee lowers the proceeds, so realized PnL is
what the trader actually kept. On spot, selling more than the position (coins that were
held before any trade) realizes PnL only on the part that has a cost basis.

A ``shortable`` position (a perpetual contract) nets instead: its amount is signed, a sell
with nothing long opens or extends a short (entry: proceeds per contract, net of the fee),
a buy against a short realizes ``(entry - price)`` per contract, and an order larger than
the position closes it and opens the other side with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradedeck.domain.money import ZERO
from tradedeck.domain.orders import Side


@dataclass(slots=True)
class Position:
    symbol: str
    amount: Decimal = ZERO
    average_entry: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    shortable: bool = False

    def __init__(
        self,
        symbol: str,
        amount: Decimal = ZERO,
        average_entry: Decimal = ZERO,
        realized_pnl: Decimal = ZERO,
        opened_at: datetime | None = None,
        updated_at: datetime | None = None,
        shortable: bool = False,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.symbol = symbol
        self.amount = amount
        self.average_entry = average_entry
        self.realized_pnl = realized_pnl
        self.opened_at = opened_at
        self.updated_at = updated_at
        self.shortable = shortable

    @property
    def is_open(self) -> bool:
        return self.amount != 0

    def copy(self) -> Position:
        """Field by field (also what ``copy.copy`` uses): the generic copy of a slotted
        dataclass costs ten times as much."""
        return Position(
            self.symbol,
            self.amount,
            self.average_entry,
            self.realized_pnl,
            self.opened_at,
            self.updated_at,
            self.shortable,
        )

    def __copy__(self) -> Position:
        return self.copy()

    def apply_fill(
        self, side: Side, amount: Decimal, price: Decimal, fee_quote: Decimal, at: datetime
    ) -> Decimal:
        """Apply one fill and return the PnL it realized (in the quote currency)."""
        self.updated_at = at
        if self.shortable:
            return self._net(amount if side is Side.BUY else -amount, price, fee_quote, at)
        if side is Side.BUY:
            cost = self.average_entry * self.amount + price * amount + fee_quote
            if self.amount == 0:
                self.opened_at = at
            self.amount += amount
            self.average_entry = cost / self.amount
            return ZERO
        closed = min(amount, self.amount)
        if closed == 0:
            return ZERO
        fee_share = fee_quote * closed / amount
        realized = (price - self.average_entry) * closed - fee_share
        self.amount -= closed
        self.realized_pnl += realized
        if self.amount == 0:
            self.average_entry = ZERO
            self.opened_at = None
        return realized

    def _net(self, signed: Decimal, price: Decimal, fee_quote: Decimal, at: datetime) -> Decimal:
        """A fill of ``signed`` contracts (negative: sold) on a netting position."""
        held = self.amount
        size = abs(signed)
        if held == 0 or (held > 0) == (signed > 0):  # opens or adds to the same side
            fee_per = fee_quote / size
            entry = price + fee_per if signed > 0 else price - fee_per
            if held == 0:
                self.opened_at = at
            self.average_entry = (self.average_entry * abs(held) + entry * size) / (
                abs(held) + size
            )
            self.amount = held + signed
            return ZERO
        closed = min(size, abs(held))
        direction = 1 if held > 0 else -1  # a long gains as the price rises
        realized = (price - self.average_entry) * closed * direction - fee_quote * closed / size
        self.realized_pnl += realized
        rest = size - closed
        self.amount = held + (closed if signed > 0 else -closed)
        if self.amount == 0:
            self.average_entry = ZERO
            self.opened_at = None
        if rest > 0:  # flipped: the rest opens the other side at this price
            realized += self._net(rest if signed > 0 else -rest, price, fee_quote * rest / size, at)
        return realized

    def unrealized_pnl(self, last_price: Decimal) -> Decimal:
        return (last_price - self.average_entry) * self.amount
