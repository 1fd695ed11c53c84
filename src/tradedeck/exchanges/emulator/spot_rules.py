"""Binance spot's order rules as pure functions: required fields, filters, triggers, funds.

Why apart from the engine. The same checks run for a single order and for each leg of an
OCO (where Binance reports a badly placed leg as a price-relationship error instead of
"would trigger immediately"), so they take plain values and change nothing.

Trigger direction, as Binance defines it: a STOP_LOSS sell (or TAKE_PROFIT buy) waits for
the last price to fall to its stop price; a STOP_LOSS buy (or TAKE_PROFIT sell) for it to
rise to it.
"""

from __future__ import annotations

from decimal import Decimal

from tradedeck.exchanges.emulator.errors import (
    bad_parameter,
    filter_failure,
    invalid_order_type,
    invalid_time_in_force,
    not_required,
)
from tradedeck.exchanges.emulator.spot_models import (
    CONDITIONAL,
    ORDER_TYPES,
    PRICED,
    ZERO,
    EmulatorMarket,
)


def multiple(value: Decimal, step: Decimal) -> bool:
    return step == ZERO or value % step == ZERO


def triggers(type: str, side: str, stop_price: Decimal, price: Decimal) -> bool:
    """Whether the last ``price`` has reached a conditional order's ``stop_price``."""
    waits_for_fall = type.startswith("STOP_LOSS") == (side == "SELL")
    return price <= stop_price if waits_for_fall else price >= stop_price


def crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    """Whether a limit order at ``limit`` is marketable at the last ``price``."""
    return price <= limit if side == "BUY" else price >= limit


def check_order(
    market: EmulatorMarket,
    *,
    side: str,
    type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: str | None,
) -> Decimal:
    """Check fields and filters the way Binance does; returns the checked quantity."""
    if side not in ("BUY", "SELL"):
        raise bad_parameter("side")
    if type not in ORDER_TYPES:
        raise invalid_order_type()
    if quantity is None:
        raise bad_parameter("quantity")
    if type in PRICED:
        if price is None:
            raise bad_parameter("price")
        if type == "LIMIT_MAKER":
            if time_in_force is not None:
                raise not_required("timeInForce")
        elif time_in_force is None:
            raise bad_parameter("timeInForce")
        elif time_in_force != "GTC":
            raise invalid_time_in_force()
        _check_price(market, price)
    if type in CONDITIONAL:
        if stop_price is None:
            raise bad_parameter("stopPrice")
        _check_price(market, stop_price)
    elif stop_price is not None:
        raise not_required("stopPrice")
    if (
        quantity < market.min_qty
        or quantity > market.max_qty
        or not multiple(quantity, market.step_size)
    ):
        raise filter_failure("LOT_SIZE")
    if quantity * reference_price(market, type, price, stop_price) < market.min_notional:
        raise filter_failure("NOTIONAL")
    return quantity


def reference_price(
    market: EmulatorMarket, type: str, price: Decimal | None, stop_price: Decimal | None
) -> Decimal:
    """The price an order is valued at: its limit, else its stop, else the last price."""
    if type in PRICED and price is not None:
        return price
    if type in CONDITIONAL and stop_price is not None:
        return stop_price
    return market.price


def funds_needed(
    market: EmulatorMarket, side: str, quantity: Decimal, reference: Decimal
) -> tuple[str, Decimal]:
    """The asset and amount an order locks: quote at its price for a buy, base for a sell."""
    if side == "BUY":
        return market.quote, quantity * reference
    return market.base, quantity


def _check_price(market: EmulatorMarket, price: Decimal) -> None:
    if not market.min_price <= price <= market.max_price or not multiple(price, market.tick_size):
        raise filter_failure("PRICE_FILTER")
