"""Comparing money and perpetual positions with the exchange's.

Balances drift for reasons no order explains (deposits, withdrawals, fee rebates, a trade
made by hand), so they are simply taken from the exchange; the dust threshold keeps the
admins from hearing about the last satoshi of rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from tradedeck.domain.balances import Balance
from tradedeck.domain.money import ZERO, fmt
from tradedeck.exchanges.ccxt_live.models import FuturesPosition
from tradedeck.trading.reconcile.model import Difference, DifferenceKind
from tradedeck.trading.reconcile.report import describe_position, signed

# The smallest unit most assets are counted in on spot exchanges.
DEFAULT_DUST = Decimal("0.00000001")


def compare_balances(
    remote: Mapping[str, tuple[Decimal, Decimal]],
    local: Mapping[str, Balance],
    dust: Mapping[str, Decimal] | Decimal,
) -> tuple[list[Balance], list[Difference]]:
    """The exchange's balance for every asset where ours differs, and what differs.

    An asset the exchange does not list is held at zero there."""
    corrected: list[Balance] = []
    differences: list[Difference] = []
    for asset in sorted(set(remote) | set(local)):
        free, used = remote.get(asset, (ZERO, ZERO))
        here = local.get(asset) or Balance(asset)
        if free == here.free and used == here.reserved:
            continue
        corrected.append(Balance(asset, free, used))
        delta = free + used - here.total
        threshold = dust.get(asset, DEFAULT_DUST) if isinstance(dust, Mapping) else dust
        detail = (
            f"{asset}: {fmt(free)} free and {fmt(used)} in orders on the exchange,"
            f" {fmt(here.free)} and {fmt(here.reserved)} here ({signed(delta)})"
        )
        differences.append(
            Difference(DifferenceKind.BALANCE_CHANGED, asset, detail, abs(delta) > threshold)
        )
    return corrected, differences


def compare_positions(
    remote: Sequence[FuturesPosition], local: Mapping[str, FuturesPosition]
) -> list[Difference]:
    """Perpetual positions opened, closed or changed (size or entry) on the exchange."""
    there = {p.symbol: p for p in remote if p.contracts != 0}
    here = {symbol: p for symbol, p in local.items() if p.contracts != 0}
    differences: list[Difference] = []
    for symbol in sorted(set(there) | set(here)):
        if symbol not in here:
            kind = DifferenceKind.POSITION_OPENED
            detail = f"{symbol}: {describe_position(there[symbol])} open on the exchange, none here"
        elif symbol not in there:
            kind = DifferenceKind.POSITION_CLOSED
            detail = f"{symbol}: {describe_position(here[symbol])} here is closed on the exchange"
        else:
            theirs, ours = there[symbol], here[symbol]
            if theirs.contracts == ours.contracts and theirs.entry_price == ours.entry_price:
                continue
            kind = DifferenceKind.POSITION_CHANGED
            detail = (
                f"{symbol}: {describe_position(theirs)} on the exchange,"
                f" {describe_position(ours)} here"
            )
        differences.append(Difference(kind, symbol, detail, True))
    return differences
