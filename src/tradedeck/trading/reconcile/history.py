"""Finished orders of ours the database never got, looked for in the exchange's order history.

An order can fill on the exchange and still be missing here: the database write after the
send failed, or the process died between the exchange's answer and the write. An open one
shows in the open-order list and is adopted; a market order is never open, so its only
trace is the order history (and the balances it moved). Every order we send carries our
order id as its client id, which is how one of ours is told from a trade made by hand.

The history is read per market and bounded, because exchanges rate-limit it: one page per
market per reconciliation, from a little before where the last read ended, never more than
a day back. What is on the page but not ours to rebuild is sorted out here, purely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradedeck.exchanges.ccxt_live.models import RemoteOrder
from tradedeck.trading.reconcile.orders import looks_like_ours

LOOKBACK = timedelta(hours=24)
HISTORY_PAGE = 500  # orders asked for per read: binance's default page
# Orders are dated by the exchange's clock and the read by ours; reading again a little of
# what the last read covered costs nothing (recorded orders are skipped) and misses nothing.
OVERLAP = timedelta(minutes=5)


def created(remote: RemoteOrder) -> datetime:
    return remote.created_at or remote.updated_at


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """Where each market's next history read starts."""

    lookback: timedelta = LOOKBACK
    overlap: timedelta = OVERLAP

    def since(self, now: datetime, read_until: datetime | None) -> datetime:
        """From a little before ``read_until`` (where the last read ended; None: never
        read), and never earlier than ``lookback`` before ``now``."""
        floor = now - self.lookback
        if read_until is None:
            return floor
        return max(floor, read_until - self.overlap)

    def read_until(self, now: datetime, page: Sequence[RemoteOrder], limit: int) -> datetime:
        """Where a read of ``page`` (asked for at most ``limit`` orders) ended: ``now`` when
        the page held all there was; when it was full, at its newest order, so the next
        reconciliation reads on from there instead of the same page again."""
        if len(page) < limit:
            return now
        return max(created(o) for o in page) + self.overlap


def unrecorded(
    history: Iterable[RemoteOrder],
    skip: Set[str],
    is_ours: Callable[[str], bool] = looks_like_ours,
) -> list[RemoteOrder]:
    """The orders in ``history`` that may be missing from the database, oldest first:
    ours by their client id, finished on the exchange, having filled something (one that
    filled nothing changed nothing here), and not in ``skip`` (the ids of orders already
    followed: open here or on the exchange, or known to be recorded)."""
    found = [
        remote
        for remote in history
        if remote.client_order_id is not None
        and remote.client_order_id not in skip
        and not remote.is_open
        and remote.filled > 0
        and is_ours(remote.client_order_id)
    ]
    return sorted(found, key=lambda o: (created(o), o.exchange_order_id))
