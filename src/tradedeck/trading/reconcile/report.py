"""How a reconciliation reads to a trader: one sentence per difference, a short report.

The admins get the report on Telegram, so sentences name the order the way a trader
remembers it (symbol, side, amount, price) rather than by its fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from tradedeck.domain.money import fmt
from tradedeck.domain.orders import OrderType, Side
from tradedeck.exchanges.ccxt_live.models import FuturesPosition
from tradedeck.trading.reconcile.model import Reconciliation

_SHORT_ID = 8
_LEG_SUFFIXES = ("-sl", "-tp")


class OrderTerms(Protocol):
    """What both a local ``Order`` and a ``RemoteOrder`` say about what was asked for."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def type(self) -> OrderType: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def stop_price(self) -> Decimal | None: ...


def short_id(order_id: str) -> str:
    """The head of a long id, keeping a protective leg's suffix: enough to tell orders apart."""
    suffix = next((s for s in _LEG_SUFFIXES if order_id.endswith(s)), "")
    head = order_id.removesuffix(suffix)
    if len(head) <= _SHORT_ID + 2:
        return order_id
    return f"{head[:_SHORT_ID]}…{suffix}"


def describe_order(order_id: str, terms: OrderTerms) -> str:
    text = f"order {short_id(order_id)} {terms.symbol} {terms.side.value} {fmt(terms.amount)}"
    if terms.price is not None:
        text += f" @ {fmt(terms.price)}"
    if terms.stop_price is not None:
        text += f" stop {fmt(terms.stop_price)}"
    if terms.price is None and terms.stop_price is None:
        text += f" {terms.type.value}"
    return text


def describe_position(position: FuturesPosition) -> str:
    direction = "long" if position.contracts > 0 else "short"
    return f"{direction} {fmt(abs(position.contracts))} @ {fmt(position.entry_price)}"


def signed(value: Decimal) -> str:
    return f"+{fmt(value)}" if value > 0 else f"{fmt(value)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary(reconciliation: Reconciliation, limit: int = 20) -> str:
    """A plain-text report: one line per difference that matters, at most ``limit`` lines."""
    differences = reconciliation.differences
    if not differences:
        return "no differences"
    notable = [d for d in differences if d.matters]
    minor = len(differences) - len(notable)
    if not notable:
        return f"no differences that matter ({minor} minor)"
    header = f"{_count(len(notable), 'difference')} with the exchange"
    if minor:
        header += f" (and {minor} minor)"
    lines = [f"{header}:", *(f"- {d.detail}" for d in notable[:limit])]
    if len(notable) > limit:
        lines.append(f"… and {len(notable) - limit} more")
    return "\n".join(lines)
