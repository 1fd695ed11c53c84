"""The vocabulary of a reconciliation: what differs from the exchange, and what to write down.

Kept apart from the rules that find differences so the order manager, the live book and the
bot can handle a result without importing the comparison itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tradedeck.domain.orders import Order
from tradedeck.exchanges.base import ExchangeUpdate


class DifferenceKind(StrEnum):
    ORDER_OPEN = "order_open"  # placed, never confirmed here, open on the exchange
    ORDER_FILLED = "order_filled"
    ORDER_PARTIALLY_FILLED = "order_partially_filled"
    ORDER_CANCELED = "order_canceled"
    ORDER_REJECTED = "order_rejected"
    ORDER_EXPIRED = "order_expired"
    ORDER_UNKNOWN_LOCALLY = "order_unknown_locally"
    # Finished on the exchange, filled, never recorded here: rebuilt from the order history.
    ORDER_RECOVERED = "order_recovered"
    ORDER_MISSING_REMOTELY = "order_missing_remotely"
    # The exchange's state cannot be applied by the rules (fills are never taken back, a
    # finished order never reopens): a human has to look.
    ORDER_CONFLICT = "order_conflict"
    BALANCE_CHANGED = "balance_changed"
    POSITION_OPENED = "position_opened"
    POSITION_CHANGED = "position_changed"
    POSITION_CLOSED = "position_closed"


_KIND_RANK = {kind: rank for rank, kind in enumerate(DifferenceKind)}
_AREA = {"order": 0, "balance": 1, "position": 2}


@dataclass(frozen=True, slots=True)
class Difference:
    kind: DifferenceKind
    subject: str  # order id, asset or symbol
    detail: str  # one sentence a trader understands
    matters: bool  # worth telling the admins; dust and bookkeeping noise are not

    @property
    def sort_key(self) -> tuple[int, str, int]:
        """Orders, then balances, then positions; by subject, then by kind."""
        area = _AREA[self.kind.value.partition("_")[0]]
        return (area, self.subject, _KIND_RANK[self.kind])


@dataclass(slots=True)
class Reconciliation:
    differences: list[Difference] = field(default_factory=list)
    # Corrections in the order manager's own terms: order copies in their new state, the
    # fills that got them there, and the exchange's balances where ours differ.
    update: ExchangeUpdate = field(default_factory=ExchangeUpdate)
    # Open exchange orders carrying a client id we issued that were never recorded here,
    # rebuilt as orders (they are in ``update.orders`` too, so persisting adds them).
    adopted: list[Order] = field(default_factory=list)
    # Finished exchange orders of ours the database missed (their write failed), rebuilt
    # with their fills from the order history; in ``update.orders`` too.
    recovered: list[Order] = field(default_factory=list)

    @property
    def matters(self) -> bool:
        return any(d.matters for d in self.differences)


def fill_id(exchange_order_id: str, trade_id: str) -> str:
    """The id a fill from the exchange is stored under, the same on every re-read.

    Trade ids are unique only within a symbol (or an order) on some exchanges; prefixed with
    the order's exchange id they are unique across the whole account."""
    return f"{exchange_order_id}:{trade_id}"
