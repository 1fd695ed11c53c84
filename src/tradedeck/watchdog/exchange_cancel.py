"""Cancel every open order directly on a live exchange, with the watchdog's own keys.

When trading live, the open orders that matter are the exchange's, not the rows: a dead
trading process cannot cancel them and the database cannot either. The watchdog holds a
ccxt client of its own (``TRADEDECK_WATCHDOG_EXCHANGE_API_KEY``/``_SECRET``, meant to be keys
that may cancel but not trade) and asks the exchange to cancel everything open on the
traded markets. It never places anything.

The stored orders it canceled are marked canceled too, in one transaction, so the trading
process restarts on a database that agrees with the exchange; whatever else moved (a fill
in the last second) its reconciliation reads from the exchange on start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from tradedeck.domain.money import ZERO
from tradedeck.domain.orders import OrderStatus
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.storage.repository import Repository

if TYPE_CHECKING:  # ccxt is the optional `live` extra
    from tradedeck.exchanges.ccxt_live.client import CcxtClient

log = structlog.get_logger(__name__)


async def cancel_on_exchange(
    client: CcxtClient,
    repository: Repository,
    symbols: Iterable[str],
    reason: str,
    *,
    now: datetime | None = None,
) -> int:
    """Cancel every open order of ``symbols`` on the exchange; returns how many. Orders
    placed by hand on the account are canceled too: the kill switch means nothing trades."""
    when = now or datetime.now(UTC)
    canceled_ids: set[str] = set()
    total = 0
    for symbol in symbols:
        for remote in await client.cancel_all(symbol):
            if remote.status is OrderStatus.CANCELED:
                total += 1
                if remote.client_order_id:
                    canceled_ids.add(remote.client_order_id)
    ours = [o for o in await repository.load_open_orders() if o.id in canceled_ids]
    for order in ours:
        order.transition(OrderStatus.CANCELED, when, reason)
        order.reserved = ZERO
    if ours:
        await repository.save_update(ExchangeUpdate(orders=ours), [])
    log.warning("watchdog_exchange_cancel", canceled=total, ours=len(ours))
    return total
