"""What ccxt is asked to send: one order, or the legs that protect a position.

Kept apart from the client so the exact calls can be read (and tested) without a network:
which unified type, which params, which client order ids. Amounts and prices go to ccxt as
plain decimal strings, never floats; ccxt passes them through its own precision function
unchanged because they are already on the market's grid.

Which params. ccxt's unified ``clientOrderId`` becomes binance's ``newClientOrderId`` (or
``clientAlgoId`` for a futures trigger order, which binance now routes to its algo-order
API). ``triggerPrice`` makes a stop: STOP_LOSS / STOP_LOSS_LIMIT on spot, STOP_MARKET /
STOP on futures; ``takeProfitPrice`` makes the TAKE_PROFIT kinds. ``reduceOnly`` exists on
perpetuals only.

Protection. A spot long is protected by one OCO sell when both a stop loss and a take
profit are given: a LIMIT_MAKER above the market (the take profit) and a STOP_LOSS_LIMIT
below it, where a fill of either cancels the other on the exchange, and both hold the
same coins only once. ccxt has no unified call for it, so the request is binance's
``POST /api/v3/orderList/oco`` through ccxt's implicit API. One leg alone is a
STOP_LOSS_LIMIT, or a plain LIMIT sell at the take profit (a resting limit is what a take
profit is on spot, and it needs no trigger). A perpetual gets a STOP_MARKET and a
TAKE_PROFIT_MARKET, both reduce-only, so neither can open a position of its own.

Why a stop-limit and how far through. A spot stop-limit only sells at its limit or better:
if the price gaps past the limit the order rests unfilled and the position is unprotected.
The limit is therefore ``STOP_LIMIT_OFFSET`` (0.5 %) beyond the stop: wide enough to fill in
a fast market, since a liquid pair rarely moves that much between the trigger and the
fill, yet it caps the worst fill at half a percent past the stop the trader chose.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradedeck.domain.money import fmt
from tradedeck.domain.orders import OrderType, Side
from tradedeck.exchanges.ccxt_live.models import LiveMarket, MarketKind, PlaceOrder
from tradedeck.exchanges.ccxt_live.rules import round_price

STOP_LIMIT_OFFSET = Decimal("0.005")
STOP_LOSS_SUFFIX = "-sl"
TAKE_PROFIT_SUFFIX = "-tp"


def text(value: Decimal) -> str:
    """A Decimal as ccxt should receive it: plain digits, no exponent, no float."""
    return fmt(value) or "0"


@dataclass(frozen=True, slots=True)
class CreateOrder:
    """The arguments of one ``exchange.create_order`` call."""

    symbol: str  # ccxt's symbol
    type: str  # "market" or "limit": ccxt derives the stop kinds from the params
    side: str
    amount: str
    price: str | None
    params: dict[str, Any] = field(default_factory=dict)

    def send(self, exchange: Any) -> Awaitable[dict[str, Any]]:
        result: Awaitable[dict[str, Any]] = exchange.create_order(
            self.symbol, self.type, self.side, self.amount, self.price, dict(self.params)
        )
        return result


def create_order(order: PlaceOrder, market: LiveMarket) -> CreateOrder:
    """The ccxt call for ``order`` (already checked against the market's rules)."""
    params: dict[str, Any] = {"clientOrderId": order.client_order_id}
    if order.type.needs_stop and order.stop_price is not None:
        params["takeProfitPrice" if order.take_profit else "triggerPrice"] = text(order.stop_price)
    if order.reduce_only and market.kind is MarketKind.PERPETUAL:
        params["reduceOnly"] = True
    limit = order.type.needs_price and order.price is not None
    return CreateOrder(
        symbol=market.exchange_symbol,
        type="limit" if limit else "market",
        side=order.side.value,
        amount=text(order.amount),
        price=text(order.price) if limit and order.price is not None else None,
        params=params,
    )


def stop_limit_price(market: LiveMarket, stop: Decimal, exit_side: Side) -> Decimal:
    """The limit of a stop-limit exit: ``STOP_LIMIT_OFFSET`` beyond the stop, on the tick.

    It is rounded further through (down for a sell, up for a buy: the way the opposite
    side's limit rounds), so rounding never makes it tighter than the offset.
    """
    offset = -STOP_LIMIT_OFFSET if exit_side is Side.SELL else STOP_LIMIT_OFFSET
    return round_price(market, stop * (1 + offset), exit_side.opposite)


def protection_legs(
    market: LiveMarket,
    amount: Decimal,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    prefix: str,
    exit_side: Side,
) -> list[PlaceOrder]:
    """The protective orders of a position, as tradedeck orders (checked like any other)."""
    perpetual = market.kind is MarketKind.PERPETUAL
    legs: list[PlaceOrder] = []
    if stop_loss is not None:
        legs.append(
            PlaceOrder(
                symbol=market.market.symbol,
                side=exit_side,
                type=OrderType.STOP_MARKET if perpetual else OrderType.STOP_LIMIT,
                amount=amount,
                client_order_id=prefix + STOP_LOSS_SUFFIX,
                price=None if perpetual else stop_limit_price(market, stop_loss, exit_side),
                stop_price=stop_loss,
                reduce_only=perpetual,
            )
        )
    if take_profit is not None:
        legs.append(
            PlaceOrder(
                symbol=market.market.symbol,
                side=exit_side,
                type=OrderType.STOP_MARKET if perpetual else OrderType.LIMIT,
                amount=amount,
                client_order_id=prefix + TAKE_PROFIT_SUFFIX,
                price=None if perpetual else take_profit,
                stop_price=take_profit if perpetual else None,
                reduce_only=perpetual,
                take_profit=perpetual,
            )
        )
    return legs


def oco_request(
    market: LiveMarket, stop: PlaceOrder, target: PlaceOrder, prefix: str
) -> dict[str, Any]:
    """binance's ``orderList/oco`` sell: the take profit above, the stop-limit below."""
    if stop.price is None or stop.stop_price is None or target.price is None:
        raise ValueError("an OCO needs a stop-limit leg and a limit leg")
    return {
        "symbol": market.exchange_id,
        "side": stop.side.value.upper(),
        "quantity": text(stop.amount),
        "listClientOrderId": prefix,
        "aboveType": "LIMIT_MAKER",
        "abovePrice": text(target.price),
        "aboveClientOrderId": target.client_order_id,
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": text(stop.stop_price),
        "belowPrice": text(stop.price),
        "belowTimeInForce": "GTC",
        "belowClientOrderId": stop.client_order_id,
        "newOrderRespType": "FULL",
    }
