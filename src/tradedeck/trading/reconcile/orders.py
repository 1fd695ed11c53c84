"""Bringing one order up to the exchange's state, and rebuilding orders we never recorded
(still open on the exchange, or already finished there).

Fills the exchange reports but we never stored are recorded on a copy of the order with
the domain's own ``record_fill`` and ``transition``, so a corrected order obeys the same
lifecycle rules as one the order manager moved itself; anything those rules forbid is
reported for a human instead of forced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradedeck.domain.money import ZERO, fmt
from tradedeck.domain.orders import Fill, Order, OrderRole, OrderStatus, can_transition
from tradedeck.exchanges.ccxt_live.models import RemoteOrder, RemoteTrade
from tradedeck.trading.reconcile.model import Difference, DifferenceKind, fill_id
from tradedeck.trading.reconcile.report import describe_order

# Order ids are uuid4 hex; a protective leg is its entry's id plus a suffix.
_OUR_ID = re.compile(r"[0-9a-f]{32}(?:-sl|-tp)?")
_LEG_ROLES = {"-sl": OrderRole.STOP_LOSS, "-tp": OrderRole.TAKE_PROFIT}
_REASONS = {
    OrderStatus.CANCELED: "canceled on the exchange",
    OrderStatus.REJECTED: "rejected by the exchange",
    OrderStatus.EXPIRED: "expired on the exchange",
}
_KINDS = {
    OrderStatus.OPEN: DifferenceKind.ORDER_OPEN,
    OrderStatus.PARTIALLY_FILLED: DifferenceKind.ORDER_PARTIALLY_FILLED,
    OrderStatus.FILLED: DifferenceKind.ORDER_FILLED,
    OrderStatus.CANCELED: DifferenceKind.ORDER_CANCELED,
    OrderStatus.REJECTED: DifferenceKind.ORDER_REJECTED,
    OrderStatus.EXPIRED: DifferenceKind.ORDER_EXPIRED,
}
MISSING_REASON = "not found on the exchange"
RECOVERED = "recovered a filled order the database missed:"
ADOPTED_SOURCE = "reconcile"


@dataclass(slots=True)
class Correction:
    """What one order needs: its new state (None when nothing changed), fills, findings."""

    order: Order | None = None
    fills: list[Fill] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)


def looks_like_ours(client_order_id: str) -> bool:
    """Whether a client order id has the shape of one tradedeck issued."""
    return _OUR_ID.fullmatch(client_order_id) is not None


def correct(local: Order, remote: RemoteOrder, known_fill_ids: Set[str]) -> Correction:
    """Move a copy of ``local`` to the exchange's state ``remote``."""
    order = local.copy()
    fills, conflicts = _follow(order, remote, known_fill_ids)
    if remote.filled < local.filled:
        conflicts.append(
            _conflict(
                local,
                f"filled {fmt(local.filled)} here but {fmt(remote.filled)} on the exchange;"
                " recorded fills are never taken back, check it by hand",
            )
        )
    if not fills and order.status is local.status:
        return Correction(differences=conflicts)
    return Correction(order, fills, [_changed(local, order, fills), *conflicts])


def missing(local: Order, now: datetime) -> Correction:
    """The exchange has no trace of an order we think is open: it can never fill."""
    order = local.copy()
    order.transition(OrderStatus.CANCELED, now, MISSING_REASON)
    order.reserved = ZERO
    detail = f"{describe_order(local.id, local)} is open here but unknown to the exchange;"
    detail += " marked canceled"
    return Correction(
        order, [], [Difference(DifferenceKind.ORDER_MISSING_REMOTELY, local.id, detail, True)]
    )


def adopt(client_order_id: str, remote: RemoteOrder, known_fill_ids: Set[str]) -> Correction:
    """Rebuild an open exchange order we issued but never recorded (lost in a crash or a
    timeout), with its fills, as if the order manager had followed it all along."""
    order, fills, conflicts = rebuild(client_order_id, remote, known_fill_ids)
    detail = f"{describe_order(client_order_id, remote)} is open on the exchange but was not"
    detail += f" recorded here; adopted as {order.status.value}"
    found = Difference(DifferenceKind.ORDER_UNKNOWN_LOCALLY, client_order_id, detail, True)
    return Correction(order, fills, [found, *conflicts])


def rebuild(
    client_order_id: str, remote: RemoteOrder, known_fill_ids: Set[str]
) -> tuple[Order, list[Fill], list[Difference]]:
    """Our order ``client_order_id`` as the exchange's ``remote`` shows it, built from
    nothing: its role from the id (a protective leg's suffix), its fills and its status
    reached through the lifecycle rules; what they forbid comes back as conflicts."""
    suffix = client_order_id[-3:]
    role = _LEG_ROLES.get(suffix, OrderRole.ENTRY)
    created = remote.created_at or min(
        (t.timestamp for t in remote.trades), default=remote.updated_at
    )
    order = Order(
        id=client_order_id,
        symbol=remote.symbol,
        side=remote.side,
        type=remote.type,
        amount=remote.amount,
        created_at=min(created, remote.updated_at),
        updated_at=remote.updated_at,
        price=remote.price,
        stop_price=remote.stop_price,
        fee_currency=remote.fee_currency,
        role=role,
        parent_id=client_order_id.removesuffix(suffix) if role is not OrderRole.ENTRY else None,
        source=ADOPTED_SOURCE,
    )
    fills, conflicts = _follow(order, remote, known_fill_ids)
    return order, fills, conflicts


def recover(client_order_id: str, remote: RemoteOrder, known_fill_ids: Set[str]) -> Correction:
    """Rebuild a finished exchange order we issued but never recorded (the write after
    the send failed, or the process died before it), with its fills, in its final state.

    Should the rules not let the rebuilt order reach that state (a fill without a price),
    nothing is recorded and a human is told: a half-built order would misstate the books.
    """
    order, fills, conflicts = rebuild(client_order_id, remote, known_fill_ids)
    if not order.status.is_terminal:
        problem = f"is {remote.status.value} on the exchange but was never recorded here and"
        problem += " cannot be rebuilt so; check it by hand"
        return Correction(differences=conflicts or [_conflict(order, problem)])
    detail = f"{RECOVERED} {_changed(order, order, fills).detail}"
    found = Difference(DifferenceKind.ORDER_RECOVERED, client_order_id, detail, True)
    return Correction(order, fills, [found, *conflicts])


def twice(remote: RemoteOrder) -> Difference:
    """A client id of ours on a second finished exchange order: only one can be ours."""
    subject = remote.client_order_id or remote.exchange_order_id
    detail = f"{describe_order(subject, remote)} shows on the exchange a second time"
    detail += f" (exchange order {remote.exchange_order_id}); not recorded, check it by hand"
    return Difference(DifferenceKind.ORDER_CONFLICT, subject, detail, True)


def foreign(remote: RemoteOrder) -> Difference:
    """An open exchange order tradedeck did not place: someone traded on the account."""
    subject = remote.client_order_id or remote.exchange_order_id
    detail = f"{describe_order(subject, remote)} is open on the exchange and was not placed"
    detail += " by tradedeck; left alone"
    return Difference(DifferenceKind.ORDER_UNKNOWN_LOCALLY, subject, detail, True)


def _follow(
    order: Order, remote: RemoteOrder, known_fill_ids: Set[str]
) -> tuple[list[Fill], list[Difference]]:
    """Record the fills ``order`` lacks, then move it to the remote status where allowed."""
    fills = _catch_up(order, remote, known_fill_ids)
    if order.filled < min(remote.filled, order.amount):
        # Without a price the rest cannot be recorded, and a status without its fills
        # would misstate the position: leave both to a human.
        problem = f"is filled {fmt(remote.filled)} on the exchange at a price it does not"
        problem += f" report; only {fmt(order.filled)} is recorded here"
        return fills, [_conflict(order, problem)]
    conflicts: list[Difference] = []
    target = remote.status
    if target is OrderStatus.OPEN and order.filled > 0:
        target = OrderStatus.PARTIALLY_FILLED  # some exchanges keep saying "open"
    if order.status is not target:
        if can_transition(order.status, target):
            order.transition(target, remote.updated_at, _REASONS.get(target))
        else:
            conflicts.append(
                _conflict(
                    order,
                    f"is {order.status.value} here but {target.value} on the exchange;"
                    " that change is not allowed, check it by hand",
                )
            )
    if order.status.is_terminal:
        order.reserved = ZERO
    if fills and remote.fee_currency is not None:
        order.fee_currency = remote.fee_currency
    return fills, conflicts


def _catch_up(order: Order, remote: RemoteOrder, known_fill_ids: Set[str]) -> list[Fill]:
    """Record on ``order`` the part of ``remote.filled`` it lacks.

    The exchange's own trades are used where they are not stored yet. When they do not
    cover the whole gap (the exchange lists only recent trades, or none with the order),
    the rest becomes one fill at the price implied by the exchange's average, so that the
    order's average, fees and therefore the position's cost end up exactly the exchange's.
    """
    target = min(remote.filled, order.amount)
    gap = target - order.filled
    if gap <= 0:
        return []
    remaining_before = order.remaining
    fills: list[Fill] = []
    for trade in _unknown_trades(remote.trades, known_fill_ids, gap):
        order.record_fill(trade.amount, trade.price, trade.fee, remote.updated_at)
        fills.append(_trade_fill(order, trade))
    rest = target - order.filled
    price = _implied_price(order, remote, target, rest) if rest > 0 else None
    if price is not None:
        fee = max(ZERO, remote.fee - order.fee)  # fee currencies may differ; never negative
        order.record_fill(rest, price, fee, remote.updated_at)
        fills.append(
            Fill(
                fill_id(remote.exchange_order_id, f"rest-{fmt(target)}"),
                order.id,
                order.symbol,
                order.side,
                rest,
                price,
                fee,
                remote.fee_currency or order.fee_currency or _quote(order.symbol),
                remote.updated_at,
                order.user_id,
            )
        )
    if remaining_before > 0:
        order.reserved = order.reserved * order.remaining / remaining_before
    return fills


def _unknown_trades(
    trades: Iterable[RemoteTrade], known_fill_ids: Set[str], gap: Decimal
) -> list[RemoteTrade]:
    """The exchange's trades not stored yet that fit in the gap, oldest first.

    If more are unknown than the gap can hold, some were stored under other ids; those are
    the older ones (what we recorded happened first), so the newest are taken."""
    unknown = sorted(
        (
            t
            for t in trades
            if t.amount > 0 and fill_id(t.exchange_order_id, t.trade_id) not in known_fill_ids
        ),
        key=lambda t: (t.timestamp, t.trade_id),
    )
    taken: list[RemoteTrade] = []
    room = gap
    for trade in reversed(unknown):
        if trade.amount > room:
            break
        taken.append(trade)
        room -= trade.amount
    taken.reverse()
    return taken


def _implied_price(
    order: Order, remote: RemoteOrder, target: Decimal, rest: Decimal
) -> Decimal | None:
    """The price at which ``rest`` brings the order's average to the exchange's; the
    order's own price when the exchange gives no average or the numbers disagree."""
    if remote.average_price is not None:
        known_cost = (order.average_price or ZERO) * order.filled
        implied = (remote.average_price * target - known_cost) / rest
        if implied > 0:
            return implied
    return remote.average_price or remote.price or order.price


def _trade_fill(order: Order, trade: RemoteTrade) -> Fill:
    return Fill(
        fill_id(trade.exchange_order_id, trade.trade_id),
        order.id,
        order.symbol,
        order.side,
        trade.amount,
        trade.price,
        trade.fee,
        trade.fee_currency,
        trade.timestamp,
        order.user_id,
        liquidity=trade.liquidity,
    )


def _changed(before: Order, after: Order, fills: list[Fill]) -> Difference:
    text = describe_order(before.id, before)
    new = sum((f.amount for f in fills), ZERO)
    done = f"{fmt(after.filled)} at {fmt(after.average_price)}"
    status = after.status
    if status is OrderStatus.FILLED:
        text += f" filled {done} on the exchange"
    elif status is OrderStatus.PARTIALLY_FILLED:
        text += f" partially filled {done} on the exchange"
    elif status is OrderStatus.OPEN:
        text += " is open on the exchange"
    else:
        text += f" {_REASONS[status]}"
        if after.filled > 0:
            text += f" after filling {done}"
    if fills and new != after.filled:
        text += f" ({fmt(new)} new)"
    return Difference(_KINDS[status], before.id, text, status is not OrderStatus.OPEN)


def _conflict(order: Order, problem: str) -> Difference:
    detail = f"{describe_order(order.id, order)} {problem}"
    return Difference(DifferenceKind.ORDER_CONFLICT, order.id, detail, True)


def _quote(symbol: str) -> str:
    return symbol.partition("/")[2].partition(":")[0]
