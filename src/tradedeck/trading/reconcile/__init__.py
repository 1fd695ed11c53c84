"""Reconciliation: what tradedeck believes against what the exchange says, the exchange winning.

Run on start, after a reconnect and every few minutes. Pure: the caller reads the exchange
(an ``AccountSnapshot``, the final state of every order that left the open list, and the
finished orders of its recent history the database may lack) and persists
``Reconciliation.update`` through the order manager like any other exchange update;
nothing here talks to the exchange, the database or the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from tradedeck.domain.balances import Balance
from tradedeck.domain.orders import Order
from tradedeck.exchanges.ccxt_live.models import AccountSnapshot, FuturesPosition, RemoteOrder
from tradedeck.trading.reconcile.account import DEFAULT_DUST, compare_balances, compare_positions
from tradedeck.trading.reconcile.history import HistoryWindow, unrecorded
from tradedeck.trading.reconcile.model import Difference, DifferenceKind, Reconciliation, fill_id
from tradedeck.trading.reconcile.orders import (
    Correction,
    adopt,
    correct,
    foreign,
    looks_like_ours,
    missing,
    recover,
    twice,
)
from tradedeck.trading.reconcile.report import summary

__all__ = [
    "DEFAULT_DUST",
    "Difference",
    "DifferenceKind",
    "HistoryWindow",
    "Reconciliation",
    "fill_id",
    "looks_like_ours",
    "needs_lookup",
    "reconcile",
    "summary",
    "unrecorded",
]

_NO_POSITIONS: Mapping[str, FuturesPosition] = MappingProxyType({})


def needs_lookup(local_open: Sequence[Order], snapshot: AccountSnapshot) -> list[str]:
    """Ids of our open orders the snapshot does not list as open: fetch each one's final
    state by client id and pass them to ``reconcile`` as ``closed_lookups``."""
    listed = {o.client_order_id for o in snapshot.open_orders}
    return sorted(o.id for o in local_open if not o.status.is_terminal and o.id not in listed)


def reconcile(
    local_open: Sequence[Order],
    snapshot: AccountSnapshot,
    closed_lookups: Mapping[str, RemoteOrder | None],
    local_balances: Mapping[str, Balance],
    local_positions: Mapping[str, FuturesPosition] = _NO_POSITIONS,
    *,
    known_fill_ids: Set[str] = frozenset(),
    now: datetime,
    dust: Mapping[str, Decimal] | Decimal = DEFAULT_DUST,
    is_ours: Callable[[str], bool] = looks_like_ours,
    finished: Sequence[RemoteOrder] = (),
) -> Reconciliation:
    """Compare and correct; the inputs are left untouched.

    ``closed_lookups`` maps the id of each local open order absent from the snapshot to its
    state fetched by client id, ``None`` when the exchange has no trace of it; an order with
    no entry there was not looked up and is left as it is. Orders in ``local_open`` that are
    already finished are not open and are ignored. ``now`` dates the cancellation of orders
    the exchange does not know; every other change carries the exchange's own time.

    ``finished`` are orders from the exchange's recent history, with their trades, that the
    database does not have (``unrecorded`` picks the candidates, the caller drops those the
    database holds): each filled one of ours that neither side lists as open is rebuilt.
    """
    result = Reconciliation()
    listed = {o.client_order_id: o for o in snapshot.open_orders if o.client_order_id}
    ours = {o.id for o in local_open}
    for order in sorted(local_open, key=lambda o: o.id):
        if order.status.is_terminal:
            continue
        remote = listed.get(order.id)
        if remote is not None:
            _take(result, correct(order, remote, known_fill_ids))
        elif order.id in closed_lookups:
            final = closed_lookups[order.id]
            if final is None:
                _take(result, missing(order, now))
            else:
                _take(result, correct(order, final, known_fill_ids))
    strangers = (o for o in snapshot.open_orders if o.client_order_id not in ours)
    for remote in sorted(strangers, key=lambda o: (o.client_order_id or "", o.exchange_order_id)):
        client_id = remote.client_order_id
        if client_id is not None and is_ours(client_id):
            correction = adopt(client_id, remote, known_fill_ids)
            _take(result, correction)
            if correction.order is not None:
                result.adopted.append(correction.order)
        else:
            result.differences.append(foreign(remote))
    rebuilt: set[str] = set()
    for remote in unrecorded(finished, ours | set(listed), is_ours):
        client_id = remote.client_order_id or ""
        if any(fill_id(t.exchange_order_id, t.trade_id) in known_fill_ids for t in remote.trades):
            continue  # its fills are stored, so it is too
        if client_id in rebuilt:
            result.differences.append(twice(remote))
            continue
        rebuilt.add(client_id)
        correction = recover(client_id, remote, known_fill_ids)
        _take(result, correction)
        if correction.order is not None:
            result.recovered.append(correction.order)
    balances, balance_differences = compare_balances(snapshot.balances, local_balances, dust)
    result.update.balances.extend(balances)
    result.differences.extend(balance_differences)
    result.differences.extend(compare_positions(snapshot.positions, local_positions))
    result.differences.sort(key=lambda d: d.sort_key)
    return result


def _take(result: Reconciliation, correction: Correction) -> None:
    if correction.order is not None:
        result.update.orders.append(correction.order)
    result.update.fills.extend(correction.fills)
    result.differences.extend(correction.differences)
