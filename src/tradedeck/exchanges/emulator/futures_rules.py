"""USDⓈ-M futures order checks as pure functions, with the futures API's own codes.

Unlike spot's single -1013 "Filter failure", each futures filter has its code: more
decimals than the symbol's precision is -1111, a price off the tick -4014, a quantity off
the step -4023, below the minimum quantity -4004, above the maximum -4005, under the
minimum notional -4164 (waived for reduce-only orders).

Trigger direction (working type CONTRACT_PRICE, the last price): a STOP / STOP_MARKET buy
triggers when the price rises to the trigger, a sell when it falls to it; TAKE_PROFIT and
TAKE_PROFIT_MARKET the other way round.
"""

from __future__ import annotations

from decimal import Decimal

from tradedeck.exchanges.emulator.errors import (
    bad_parameter,
    bad_precision,
    futures_filter,
    invalid_time_in_force,
)
from tradedeck.exchanges.emulator.futures_models import ZERO, FuturesMarket


def decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check_price(market: FuturesMarket, price: Decimal) -> None:
    if decimals(price) > market.price_precision:
        raise bad_precision()
    if price < market.min_price:
        raise futures_filter(-4013, "Price less than min price.")
    if price % market.tick_size != ZERO:
        raise futures_filter(-4014, "Price not increased by tick size.")


def check_quantity(market: FuturesMarket, quantity: Decimal, *, market_order: bool) -> None:
    if decimals(quantity) > market.quantity_precision:
        raise bad_precision()
    if quantity < market.min_qty:
        raise futures_filter(-4004, "Quantity less than min quantity.")
    if quantity > (market.market_max_qty if market_order else market.max_qty):
        raise futures_filter(-4005, "Quantity greater than max quantity.")
    if quantity % market.step_size != ZERO:
        raise futures_filter(-4023, "Quantity not increased by step size.")


def check_notional(market: FuturesMarket, quantity: Decimal, price: Decimal) -> None:
    if quantity * price < market.min_notional:
        minimum = market.min_notional.normalize()
        raise futures_filter(
            -4164,
            f"Order's notional must be no smaller than {minimum:f} "
            "(unless you choose reduce only).",
        )


def triggers(order_type: str, side: str, trigger_price: Decimal, price: Decimal) -> bool:
    """Whether the last ``price`` has reached a conditional order's ``trigger_price``."""
    waits_for_rise = order_type.startswith("STOP") == (side == "BUY")
    return price >= trigger_price if waits_for_rise else price <= trigger_price


def crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    """Whether a limit order at ``limit`` is marketable at the last ``price``."""
    return price <= limit if side == "BUY" else price >= limit


def check_side(side: str) -> None:
    if side not in ("BUY", "SELL"):
        raise bad_parameter("side")


def check_limit(market: FuturesMarket, price: Decimal | None, tif: str | None) -> Decimal:
    """A limit order's price and time in force (GTC is the one the emulator supports)."""
    if price is None:
        raise bad_parameter("price")
    if tif is None:
        raise bad_parameter("timeInForce")
    if tif != "GTC":
        raise invalid_time_in_force()
    check_price(market, price)
    return price
