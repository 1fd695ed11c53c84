"""Binance spot's user-data events: ``executionReport``, ``outboundAccountPosition``,
``balanceUpdate``.

Field letters, eight-place strings and the conditional fields follow Binance's user data
stream, because ccxt.pro's binance class parses exactly these: ``C`` carries the original
client order id only on a cancel (empty otherwise), ``l``/``L``/``t``/``n``/``N`` describe
the fill of a TRADE report, ``W`` appears once the order is working, and ``w`` says
whether it rests on the book.
"""

from __future__ import annotations

from typing import Any

from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import fmt8
from tradedeck.exchanges.emulator.events import (
    BalancesChanged,
    Deposited,
    SpotEvent,
    SpotOrderChanged,
)
from tradedeck.exchanges.emulator.spot_models import ZERO, EmulatorOrder, Trade


def event(change: SpotEvent, engine: SpotEngine, now: int, execution_id: int) -> dict[str, Any]:
    """The message for one announcement of the spot engine."""
    if isinstance(change, SpotOrderChanged):
        return execution_report(change.order, change.execution, change.trade, now, execution_id)
    if isinstance(change, BalancesChanged):
        return account_position(engine, change.assets, now)
    return balance_update(change, now)


def execution_report(
    order: EmulatorOrder, execution: str, trade: Trade | None, now: int, execution_id: int
) -> dict[str, Any]:
    canceled = execution == "CANCELED"
    report: dict[str, Any] = {
        "e": "executionReport",
        "E": now,
        "s": order.symbol,
        # A cancel reports the cancel request's own client id; the order's is in "C".
        "c": f"emuCancel{order.order_id}" if canceled else order.client_order_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force or "GTC",
        "q": fmt8(order.orig_qty),
        "p": fmt8(order.price),
        "P": fmt8(order.stop_price),
        "F": fmt8(ZERO),
        "g": order.order_list_id,
        "C": order.client_order_id if canceled else "",
        "x": execution,
        "X": order.status,
        "r": "NONE",
        "i": order.order_id,
        "l": fmt8(trade.qty if trade else ZERO),
        "z": fmt8(order.executed_qty),
        "L": fmt8(trade.price if trade else ZERO),
        "n": "0",
        "N": trade.commission_asset if trade else None,
        "T": trade.time if trade else order.update_time,
        "t": trade.id if trade else -1,
        "I": execution_id,
        "w": order.open and order.working and not order.takes_market_price,
        "m": trade.maker if trade else False,
        "M": False,
        "O": order.time,
        "Z": fmt8(order.cum_quote),
        "Y": fmt8(trade.qty * trade.price if trade else ZERO),
        "Q": fmt8(ZERO),
        "V": "NONE",
    }
    if order.working:
        report["W"] = order.working_time
    return report


def account_position(engine: SpotEngine, assets: tuple[str, ...], now: int) -> dict[str, Any]:
    """The balances of the assets that just moved."""
    return {
        "e": "outboundAccountPosition",
        "E": now,
        "u": now,
        "B": [
            {"a": name, "f": fmt8(engine.asset(name).free), "l": fmt8(engine.asset(name).locked)}
            for name in dict.fromkeys(assets)
        ],
    }


def balance_update(deposit: Deposited, now: int) -> dict[str, Any]:
    return {"e": "balanceUpdate", "E": now, "a": deposit.asset, "d": fmt8(deposit.amount), "T": now}
