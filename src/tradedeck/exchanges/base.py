"""What an exchange operation hands back to the order manager.

One update carries every order whose state changed, every fill and every touched
balance, so the order manager can persist all of it in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tradedeck.domain.balances import Balance
from tradedeck.domain.orders import Fill, Order


@dataclass(slots=True)
class ExchangeUpdate:
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)

    def __init__(
        self,
        orders: list[Order] | None = None,
        fills: list[Fill] | None = None,
        balances: list[Balance] | None = None,
    ) -> None:
        # Written out, not generated: mypyc compiles this one (see tradedeck.native).
        self.orders = [] if orders is None else orders
        self.fills = [] if fills is None else fills
        self.balances = [] if balances is None else balances

    @property
    def empty(self) -> bool:
        return not (self.orders or self.fills or self.balances)

    def merge(self, other: ExchangeUpdate) -> None:
        """Fold a later update in; later states of the same order or asset win."""
        seen_orders = {o.id: i for i, o in enumerate(self.orders)}
        for order in other.orders:
            if order.id in seen_orders:
                self.orders[seen_orders[order.id]] = order
            else:
                seen_orders[order.id] = len(self.orders)
                self.orders.append(order)
        self.fills.extend(other.fills)
        seen_assets = {b.asset: i for i, b in enumerate(self.balances)}
        for balance in other.balances:
            if balance.asset in seen_assets:
                self.balances[seen_assets[balance.asset]] = balance
            else:
                seen_assets[balance.asset] = len(self.balances)
                self.balances.append(balance)
