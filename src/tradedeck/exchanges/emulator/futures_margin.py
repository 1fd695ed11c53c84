"""Position arithmetic of the futures emulator: PnL, margins and the liquidation price.

Why simplified, and how. The adapter needs numbers that move the right way and add up,
not Binance's tiered risk engine, so:

- positions are valued at the last price (it is also the mark price);
- unrealized PnL = signed size x (last - entry);
- initial margin = |notional| / leverage; maintenance margin = |notional| x the symbol's
  single maintenance-margin rate (one bracket, no maintenance amount);
- an isolated position's margin is what it posted when it opened (size x fill price /
  leverage, released pro rata as it closes); a cross position is backed by the whole cross
  wallet (wallet balance minus isolated margins), as if it were the only cross position;
- an order needs margin for what it would open beyond the position (size x its price, or
  the last price, / leverage), against what is available plus what its closing part
  releases; resting orders keep that margin reserved;
- liquidation price, with q = |size|, E = entry, W = that margin, m = the rate, is where
  margin plus PnL equals maintenance margin:
  long ``(q*E - W) / (q*(1 - m))``, short ``(q*E + W) / (q*(1 + m))``, never below zero.
  The emulator reports it but never liquidates.
"""

from __future__ import annotations

from decimal import Decimal

from tradedeck.exchanges.emulator.futures_models import ZERO, FuturesMarket, Position

EIGHT_PLACES = Decimal("0.00000001")


def notional(position: Position, market: FuturesMarket) -> Decimal:
    """Signed: negative for a short."""
    return position.amount * market.price


def unrealized_pnl(position: Position, market: FuturesMarket) -> Decimal:
    return position.amount * (market.price - position.entry_price)


def initial_margin(position: Position, market: FuturesMarket) -> Decimal:
    return (abs(notional(position, market)) / position.leverage).quantize(EIGHT_PLACES)


def maintenance_margin(position: Position, market: FuturesMarket) -> Decimal:
    return (abs(notional(position, market)) * market.maint_margin_rate).quantize(EIGHT_PLACES)


def margin_for(quantity: Decimal, price: Decimal, leverage: int) -> Decimal:
    """What opening ``quantity`` at ``price`` posts (or an open order reserves)."""
    return (quantity * price / leverage).quantize(EIGHT_PLACES)


def exposure_added(position: Position, side: str, quantity: Decimal) -> Decimal:
    """How much of an order would open or grow the position rather than reduce it."""
    if position.amount == ZERO or (position.amount > 0) == (side == "BUY"):
        return quantity
    return max(ZERO, quantity - abs(position.amount))


def reducible(position: Position, side: str) -> Decimal:
    """How much an order on ``side`` can close without opening the other way."""
    if position.amount == ZERO or (position.amount > 0) == (side == "BUY"):
        return ZERO
    return abs(position.amount)


def released_margin(position: Position, market: FuturesMarket, closing: Decimal) -> Decimal:
    """The margin that closing ``closing`` of the position gives back to the cross wallet."""
    size = abs(position.amount)
    if size == ZERO:
        return ZERO
    if position.isolated:
        return position.isolated_wallet * closing / size
    return initial_margin(position, market) * closing / size


def liquidation_price(position: Position, market: FuturesMarket, margin: Decimal) -> Decimal:
    """The isolated-margin formula above, with ``margin`` backing the position."""
    size = abs(position.amount)
    if size == ZERO:
        return ZERO
    rate = market.maint_margin_rate
    if position.amount > 0:
        price = (size * position.entry_price - margin) / (size * (1 - rate))
    else:
        price = (size * position.entry_price + margin) / (size * (1 + rate))
    return max(price, ZERO).quantize(EIGHT_PLACES)


def apply_fill(position: Position, side: str, quantity: Decimal, price: Decimal) -> Decimal:
    """Move ``position`` by one fill: close what it can (returning the PnL realized on that,
    and releasing that share of isolated margin), then open or average in the rest."""
    closing = min(quantity, reducible(position, side))
    realized = ZERO
    if closing:
        direction = 1 if position.amount > 0 else -1
        realized = closing * (price - position.entry_price) * direction
        released = position.isolated_wallet * closing / abs(position.amount)
        position.isolated_wallet = (position.isolated_wallet - released).quantize(EIGHT_PLACES)
        position.amount -= direction * closing
        if position.amount == ZERO:
            position.entry_price = position.isolated_wallet = ZERO
    opening = quantity - closing
    if opening:
        size = abs(position.amount)
        position.entry_price = (
            (size * position.entry_price + opening * price) / (size + opening)
        ).quantize(EIGHT_PLACES)
        position.amount += opening if side == "BUY" else -opening
        if position.isolated:
            position.isolated_wallet += margin_for(opening, price, position.leverage)
    return realized
