"""Which past orders an ``allOrders`` query answers with, the same on spot and futures.

Reconciliation searches the order history for orders whose database write was lost, and
it pages through it by time; an emulator that answered every order at once, or ignored
the window, would pass tests that a real account with a long history fails. So the
selection is Binance's: orders from ``orderId`` on, or created inside ``startTime`` ..
``endTime``, otherwise the most recent ones; oldest first; at most ``limit`` (500 unless
asked, 1000 at most); a window wider than the API allows is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from tradedeck.exchanges.emulator.errors import BinanceError
from tradedeck.exchanges.emulator.routing import integer

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
HOUR_MS = 3_600_000


class PastOrder(Protocol):
    @property
    def order_id(self) -> int: ...
    @property
    def time(self) -> int: ...


Past = TypeVar("Past", bound=PastOrder)


def window_too_wide(hours: int) -> BinanceError:
    return BinanceError(400, -1127, f"More than {hours} hours between startTime and endTime.")


def all_orders(
    orders: Iterable[Past], params: dict[str, str], *, max_window_hours: int
) -> list[Past]:
    """The orders (of one symbol, already chosen by the caller) the query asks for."""
    order_id, start, end = (integer(params, k) for k in ("orderId", "startTime", "endTime"))
    limit = max(1, min(integer(params, "limit") or DEFAULT_LIMIT, MAX_LIMIT))
    if start is not None and end is not None and end - start > max_window_hours * HOUR_MS:
        raise window_too_wide(max_window_hours)
    ordered = sorted(orders, key=lambda o: o.order_id)
    chosen = [
        o
        for o in ordered
        if (order_id is None or o.order_id >= order_id)
        and (start is None or o.time >= start)
        and (end is None or o.time <= end)
    ]
    if order_id is None and start is None and end is None:
        return chosen[-limit:]  # no starting point: the most recent ones
    return chosen[:limit]
