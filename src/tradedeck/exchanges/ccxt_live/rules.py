"""A market's trading rules from ccxt's metadata, and every local refusal made from them.

Why refuse locally. An order the exchange rejects for precision or minimums costs a
request, counts against rate limits and, on some exchanges, against the account's order
rejection quota. Worse, a rejected protective order leaves a position naked. So every
number is rounded to the market's grid first and checked against its limits here, and an
order that would be refused is refused with a sentence naming the value, the limit and
the symbol before anything is sent.

Why three precision modes. ccxt reports ``precision`` in the exchange's own counting mode:
a tick/step (binance: TICK_SIZE), a number of decimal places (DECIMAL_PLACES) or a number
of significant digits (SIGNIFICANT_DIGITS). The first two become a fixed step; the third
has none (0.0012345 and 12345 both have five digits), so the market keeps the digit count
and rounding applies it to each value.

Why rounding has a direction. An amount always rounds down: never spend or sell more than
was asked. A price rounds to the nearest tick unless a side is given, and then in the
direction that never makes the order worse for its owner: a buy rounds down (never pay
more), a sell rounds up (never sell for less). For a trigger price the same rule means a
sell stop fires no later than asked and a buy stop no later either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from tradedeck.domain.errors import InvalidInput, OrderRejected
from tradedeck.domain.markets import Market
from tradedeck.domain.money import ZERO, fmt
from tradedeck.domain.orders import Side
from tradedeck.exchanges.ccxt_live.convert import number
from tradedeck.exchanges.ccxt_live.models import LiveMarket, MarketKind, PlaceOrder

# ccxt's precision counting modes (ccxt.base.decimal_to_precision), as the exchange object
# reports them in ``precisionMode``.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4

# Client order ids: binance's rule (1 to 36 of these characters), which most exchanges
# accept as well.
CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
MAX_CLIENT_ORDER_ID = 36


def _step(value: Any, mode: int) -> tuple[Decimal, int | None]:
    """(fixed step or 0, significant digits or None) of one ccxt ``precision`` entry."""
    precision = number(value)
    if precision is None:
        return ZERO, None
    if mode == TICK_SIZE:
        return precision, None
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(precision)), None
    if mode == SIGNIFICANT_DIGITS:
        return ZERO, int(precision)
    raise ValueError(f"unknown ccxt precision mode {mode!r}")


def _limit(limits: Mapping[str, Any], name: str, bound: str) -> Decimal | None:
    section = limits.get(name) or {}
    value = number(section.get(bound))
    return value if value is not None and value > 0 else None


def tradable(raw: Mapping[str, Any], kind: MarketKind) -> bool:
    """Whether a ccxt market is one this client trades: an active spot pair, or an active
    USDⓈ-margined (linear) perpetual swap."""
    if raw.get("active") is False:
        return False
    if kind is MarketKind.SPOT:
        return bool(raw.get("spot"))
    return bool(raw.get("swap")) and bool(raw.get("linear"))


def live_market(raw: Mapping[str, Any], precision_mode: int, kind: MarketKind) -> LiveMarket:
    """A ccxt market dict as tradedeck's ``LiveMarket`` (keyed ``BASE/QUOTE`` for both kinds)."""
    base, quote = str(raw["base"]), str(raw["quote"])
    precision = raw.get("precision") or {}
    limits = raw.get("limits") or {}
    tick, price_digits = _step(precision.get("price"), precision_mode)
    step, amount_digits = _step(precision.get("amount"), precision_mode)
    market = Market(
        symbol=f"{base}/{quote}",
        base=base,
        quote=quote,
        price_tick=tick,
        amount_step=step,
        min_amount=_limit(limits, "amount", "min") or step,
        min_notional=_limit(limits, "cost", "min") or ZERO,
    )
    return LiveMarket(
        market=market,
        kind=kind,
        exchange_symbol=str(raw["symbol"]),
        exchange_id=str(raw["id"]),
        max_amount=_limit(limits, "amount", "max"),
        max_price=_limit(limits, "price", "max"),
        min_price=_limit(limits, "price", "min"),
        maker_fee=number(raw.get("maker")) or ZERO,
        taker_fee=number(raw.get("taker")) or ZERO,
        contract_size=number(raw.get("contractSize")) or Decimal(1),
        price_digits=price_digits,
        amount_digits=amount_digits,
    )


# -- rounding ------------------------------------------------------------------------------


def _to_grid(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=rounding) * step


def _to_digits(value: Decimal, digits: int | None, rounding: str) -> Decimal:
    if digits is None or value == 0:
        return value
    quantum = Decimal(1).scaleb(value.adjusted() - digits + 1)
    return value.quantize(quantum, rounding=rounding)


def round_amount(market: LiveMarket, amount: Decimal) -> Decimal:
    """``amount`` rounded down to what the market accepts."""
    rounded = _to_digits(amount, market.amount_digits, ROUND_DOWN)
    return _to_grid(rounded, market.market.amount_step, ROUND_DOWN)


def round_price(market: LiveMarket, price: Decimal, side: Side | None = None) -> Decimal:
    """``price`` on the market's tick: nearest, or for ``side`` never worse for the order
    (buy down, sell up)."""
    rounding = {None: ROUND_HALF_EVEN, Side.BUY: ROUND_FLOOR, Side.SELL: ROUND_CEILING}[side]
    rounded = _to_digits(price, market.price_digits, rounding)
    return _to_grid(rounded, market.market.price_tick, rounding)


# -- local refusals ------------------------------------------------------------------------


def check_client_order_id(client_order_id: str) -> None:
    if not CLIENT_ORDER_ID.match(client_order_id):
        raise InvalidInput(
            "invalid_client_order_id",
            f"client order id {client_order_id!r} must be 1 to {MAX_CLIENT_ORDER_ID} letters, "
            "digits or . : / _ -",
        )


def _check_digits(market: LiveMarket, value: Decimal, digits: int | None, field: str) -> None:
    if digits is not None and _to_digits(value, digits, ROUND_DOWN) != value:
        raise InvalidInput(
            "invalid_precision",
            f"{field} {fmt(value)} has more significant digits than {market.market.symbol} "
            f"allows ({digits})",
        )


def check_amount(market: LiveMarket, amount: Decimal) -> None:
    rules = market.market
    rules.check_amount(amount)
    _check_digits(market, amount, market.amount_digits, "amount")
    if market.max_amount is not None and amount > market.max_amount:
        raise InvalidInput(
            "above_max_amount",
            f"amount {fmt(amount)} is above the maximum {fmt(market.max_amount)} {rules.base} "
            f"for {rules.symbol}",
        )


def check_price(market: LiveMarket, price: Decimal, field: str = "price") -> None:
    rules = market.market
    rules.check_price(price, field)
    _check_digits(market, price, market.price_digits, field)
    if market.min_price is not None and price < market.min_price:
        raise InvalidInput(
            "price_out_of_range",
            f"{field} {fmt(price)} is below the minimum {fmt(market.min_price)} {rules.quote} "
            f"for {rules.symbol}",
        )
    if market.max_price is not None and price > market.max_price:
        raise InvalidInput(
            "price_out_of_range",
            f"{field} {fmt(price)} is above the maximum {fmt(market.max_price)} {rules.quote} "
            f"for {rules.symbol}",
        )


def check_notional(market: LiveMarket, amount: Decimal, price: Decimal) -> None:
    rules = market.market
    notional = amount * price * market.contract_size
    if notional < rules.min_notional:
        raise OrderRejected(
            "below_min_notional",
            f"order value {fmt(notional)} {rules.quote} is below the minimum "
            f"{fmt(rules.min_notional)} {rules.quote} for {rules.symbol}",
        )


def _check_trigger(market: LiveMarket, order: PlaceOrder, reference: Decimal) -> None:
    """A trigger the current price has already crossed would fire at once: a sell stop
    must be below the price, a sell take-profit above it (and the reverse for a buy)."""
    stop = order.stop_price
    if stop is None:
        return
    below = (order.side is Side.SELL) != order.take_profit
    if (stop >= reference) if below else (stop <= reference):
        kind = "take profit" if order.take_profit else "stop"
        raise InvalidInput(
            "stop_would_trigger",
            f"a {order.side.value} {kind} at {fmt(stop)} would trigger at once: "
            f"{market.market.symbol} trades at {fmt(reference)}; it must be "
            f"{'below' if below else 'above'} that",
        )


def check_protection(
    market: LiveMarket,
    exit_side: Side,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    reference: Decimal | None,
) -> None:
    """A position's exits on the right sides: for a long (a sell exit) the stop loss below
    the take profit, and with the price known, the stop below it and the target above it."""
    symbol = market.market.symbol
    long = exit_side is Side.SELL
    if stop_loss is not None and take_profit is not None:
        inverted = stop_loss >= take_profit if long else stop_loss <= take_profit
        if inverted:
            raise InvalidInput(
                "invalid_protection",
                f"the stop loss {fmt(stop_loss)} must be {'below' if long else 'above'} the "
                f"take profit {fmt(take_profit)} for a {'long' if long else 'short'} on {symbol}",
            )
    if reference is None:
        return
    for name, level, below in (
        ("stop loss", stop_loss, long),
        ("take profit", take_profit, not long),
    ):
        if level is not None and ((level >= reference) if below else (level <= reference)):
            raise InvalidInput(
                "protection_would_trigger",
                f"the {name} {fmt(level)} would trigger at once: {symbol} trades at "
                f"{fmt(reference)}; it must be {'below' if below else 'above'} that",
            )


def check_order(market: LiveMarket, order: PlaceOrder, reference_price: Decimal | None) -> None:
    """Refuse ``order`` if the exchange would: precision, amount and price limits, missing
    prices, a stop already crossed, and the minimum order value.

    The value is taken at the limit price, else the stop price, else ``reference_price``
    (the last trade, for a market order); without any of them it cannot be checked. A
    perpetual's reduce-only order is exempt from the minimum value, as on the exchange.
    """
    check_client_order_id(order.client_order_id)
    check_amount(market, order.amount)
    if order.type.needs_price and order.price is None:
        raise InvalidInput("missing_price", f"a {order.type.value} order needs a price")
    if order.type.needs_stop and order.stop_price is None:
        raise InvalidInput("missing_stop_price", f"a {order.type.value} order needs a stop price")
    if order.type.needs_price and order.price is not None:
        check_price(market, order.price)
    if order.type.needs_stop and order.stop_price is not None:
        check_price(market, order.stop_price, "stop price")
        if reference_price is not None:
            _check_trigger(market, order, reference_price)
    if order.reduce_only and market.kind is MarketKind.PERPETUAL:
        return
    value_price = _value_price(order, reference_price)
    if value_price is not None:
        check_notional(market, order.amount, value_price)


def _value_price(order: PlaceOrder, reference_price: Decimal | None) -> Decimal | None:
    if order.type.needs_price:
        return order.price
    if order.type.needs_stop:
        return order.stop_price
    return reference_price
