"""Placing a Binance spot OCO: which leg goes where, the price relationship, one lock.

Binance's rules for ``orderList/oco``: a SELL pairs a take-profit leg above the last price
(LIMIT_MAKER, TAKE_PROFIT or TAKE_PROFIT_LIMIT) with a stop leg below it (STOP_LOSS or
STOP_LOSS_LIMIT); a BUY the other way round. A leg on the wrong side of the last price is
refused as "The relationship of the prices for the orders is not correct." Both legs trade
the same quantity, so the pair locks funds once (a buy at the higher of its leg prices).
"""

from __future__ import annotations

from decimal import Decimal

from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import invalid_order_type, order_rejected
from tradedeck.exchanges.emulator.spot_models import OcoLeg, OrderList
from tradedeck.exchanges.emulator.spot_rules import check_order, funds_needed, reference_price

_TAKE_PROFIT_LEGS = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_STOP_LEGS = ("STOP_LOSS", "STOP_LOSS_LIMIT")
# The leg types an OCO accepts (above the last price, below it), by side.
_OCO_LEGS = {"SELL": (_TAKE_PROFIT_LEGS, _STOP_LEGS), "BUY": (_STOP_LEGS, _TAKE_PROFIT_LEGS)}


def place_oco(
    engine: SpotEngine,
    *,
    symbol: str,
    side: str,
    quantity: Decimal | None,
    above: OcoLeg,
    below: OcoLeg,
    list_client_order_id: str | None,
) -> OrderList:
    """Check both legs, lock once, accept them (resting, unmatched) as one order list."""
    market = engine.market(symbol)
    above_types, below_types = _OCO_LEGS.get(side, ((), ()))
    if above.type not in above_types or below.type not in below_types:
        raise invalid_order_type()
    levels: list[Decimal] = []
    references: list[Decimal] = []
    for leg in (above, below):
        engine.check_client_id(leg.client_order_id)
        amount = check_order(
            market,
            side=side,
            type=leg.type,
            quantity=quantity,
            price=leg.price,
            stop_price=leg.stop_price,
            time_in_force=leg.time_in_force,
        )
        references.append(reference_price(market, leg.type, leg.price, leg.stop_price))
        levels.append(leg.stop_price if leg.stop_price is not None else references[-1])
    if not levels[0] > market.price > levels[1]:
        raise order_rejected("The relationship of the prices for the orders is not correct.")
    asset, need = funds_needed(market, side, amount, max(references))
    engine.lock(asset, need)
    legs = [
        engine.accept(
            market,
            side,
            leg.type,
            amount,
            leg.price,
            leg.stop_price,
            leg.time_in_force,
            leg.client_order_id,
        )
        for leg in (below, above)
    ]
    legs[0].locked = need  # the pair's one lock; it moves to whichever leg executes
    return engine.add_list(legs, list_client_order_id)
