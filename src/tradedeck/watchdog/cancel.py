"""Cancel every open order in the persisted paper account, as the order manager would.

The paper exchange's state is the database: open orders and the balances they reserve.
When the trading process is dead nothing can cancel its orders in memory, so the watchdog
rebuilds the same engine from those rows, cancels each order with the engine's own
``cancel`` (which releases exactly what the order held and ends its OCO siblings) and
writes the result with the order manager's ``save_update``: the same rows, the same order
events, one transaction. A restarted trading process then loads an account with no open
orders and its funds free.

Canceling a partly filled entry would spawn its protective legs; the watchdog places no
orders, so any leg that appears is canceled in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from tradedeck.domain.markets import Market
from tradedeck.domain.orders import Order, OrderStatus
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.exchanges.paper import PaperEngine
from tradedeck.storage.repository import Repository

log = structlog.get_logger(__name__)

_MAX_PASSES = 3  # orders, then any legs their cancellation spawned, then a margin


@dataclass(frozen=True, slots=True)
class Cancellation:
    canceled: list[Order]
    skipped: list[Order]  # open orders on a market this watchdog does not know

    @property
    def count(self) -> int:
        return len(self.canceled)


async def cancel_persisted_orders(
    repository: Repository,
    markets: Mapping[str, Market],
    reason: str,
    *,
    now: datetime | None = None,
) -> Cancellation:
    """Cancel every open order stored in ``repository``; returns what was canceled."""
    stored = await repository.load_open_orders()
    if not stored:
        return Cancellation([], [])
    known = [o for o in stored if o.symbol in markets]
    skipped = [o for o in stored if o.symbol not in markets]
    for order in skipped:
        log.error("watchdog_cannot_cancel", order_id=order.id, symbol=order.symbol)
    when = now or datetime.now(UTC)
    engine = PaperEngine(markets, balances=await repository.load_balances(), open_orders=known)
    update = ExchangeUpdate()
    for _ in range(_MAX_PASSES):
        open_ids = [o.id for o in engine.open_orders()]
        if not open_ids:
            break
        for order_id in open_ids:
            if engine.get_order(order_id) is not None:  # an OCO sibling may have gone with it
                update.merge(engine.cancel(order_id, when, reason))
    if update.empty:
        return Cancellation([], skipped)
    # No fills: positions do not move, so none are written.
    await repository.save_update(update, [])
    canceled = [o for o in update.orders if o.status is OrderStatus.CANCELED]
    return Cancellation(canceled, skipped)
