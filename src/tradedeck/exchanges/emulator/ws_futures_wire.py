"""Binance USDⓈ-M futures' user-data events: ``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE``,
``ALGO_UPDATE``.

They differ from spot's in ways ccxt.pro relies on: the order sits under ``"o"`` and
carries ``ps`` (which is how ccxt tells a contract order from a spot one), prices and
quantities use the symbol's precision, a fill reports its fee (``n``/``N``) and realized
profit (``rp``), and conditional orders have their own event, with the algo id (``aid``)
and client algo id (``caid``) and no time inside (ccxt takes the outer ``T``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradedeck.exchanges.emulator import futures_margin as fm
from tradedeck.exchanges.emulator.errors import fmt8
from tradedeck.exchanges.emulator.events import (
    AccountChanged,
    FuturesEvent,
    FuturesOrderChanged,
)
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import (
    ZERO,
    AlgoOrder,
    FuturesMarket,
    FuturesOrder,
    FuturesTrade,
)


def _price(market: FuturesMarket, value: Decimal) -> str:
    return f"{value:.{market.price_precision}f}"


def _qty(market: FuturesMarket, value: Decimal) -> str:
    return f"{value:.{market.quantity_precision}f}"


def event(change: FuturesEvent, engine: FuturesEngine, now: int) -> dict[str, Any]:
    """The message for one announcement of the futures engine or its algo book."""
    if isinstance(change, FuturesOrderChanged):
        return order_trade_update(engine, change.order, change.execution, change.trade, now)
    if isinstance(change, AccountChanged):
        return account_update(engine, change, now)
    return algo_update(engine, change.algo, now)


def _resting_notional(engine: FuturesEngine, symbol: str, side: str) -> Decimal:
    return sum(
        (o.remaining * o.price for o in engine.open_orders(symbol) if o.side == side),
        ZERO,
    )


def order_trade_update(
    engine: FuturesEngine,
    order: FuturesOrder,
    execution: str,
    trade: FuturesTrade | None,
    now: int,
) -> dict[str, Any]:
    market = engine.markets[order.symbol]
    update: dict[str, Any] = {
        "s": order.symbol,
        "c": order.client_order_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force,
        "q": _qty(market, order.orig_qty),
        "p": _price(market, order.price),
        "ap": fmt8(order.avg_price),
        "sp": _price(market, order.stop_price),
        "x": execution,
        "X": order.status,
        "i": order.order_id,
        "l": _qty(market, trade.qty if trade else ZERO),
        "z": _qty(market, order.executed_qty),
        "L": _price(market, trade.price if trade else ZERO),
        "T": trade.time if trade else order.update_time,
        "t": trade.id if trade else 0,
        "b": fmt8(_resting_notional(engine, order.symbol, "BUY")),
        "a": fmt8(_resting_notional(engine, order.symbol, "SELL")),
        "m": trade.maker if trade else False,
        "R": order.reduce_only,
        "wt": "CONTRACT_PRICE",
        "ot": order.orig_type,
        "ps": "BOTH",
        "cp": order.close_position,
        "rp": fmt8(trade.realized_pnl if trade else ZERO),
        "pP": False,
        "si": 0,
        "ss": 0,
        "V": "EXPIRE_MAKER",
        "pm": "NONE",
        "gtd": 0,
    }
    if trade is not None:  # Binance pushes the commission only with a fill
        update |= {"N": market.quote, "n": fmt8(trade.commission)}
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": update["T"], "o": update}


def account_update(engine: FuturesEngine, change: AccountChanged, now: int) -> dict[str, Any]:
    """The wallet, and the position a fill moved; ``bc`` is the deposit's amount."""
    positions = []
    if change.symbol is not None:
        p = engine.positions[change.symbol]
        market = engine.markets[change.symbol]
        realized = sum((t.realized_pnl for t in engine.trades if t.symbol == p.symbol), ZERO)
        positions.append(
            {
                "s": p.symbol,
                "pa": _qty(market, p.amount),
                "ep": fmt8(p.entry_price),
                "bep": fmt8(p.entry_price),
                "cr": fmt8(realized),
                "up": fmt8(fm.unrealized_pnl(p, market)),
                "mt": "isolated" if p.isolated else "cross",
                "iw": fmt8(p.isolated_wallet),
                "ps": "BOTH",
                "ma": market.quote,
            }
        )
    balance = {
        "a": "USDT",
        "wb": fmt8(engine.wallet),
        "cw": fmt8(engine.cross_wallet()),
        "bc": fmt8(change.balance_change),
    }
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": engine.wallet_update_time,
        "a": {"m": change.reason, "B": [balance], "P": positions},
    }


def algo_update(engine: FuturesEngine, algo: AlgoOrder, now: int) -> dict[str, Any]:
    market = engine.markets[algo.symbol]
    placed = engine.orders.get(algo.actual_order_id) if algo.actual_order_id else None
    update: dict[str, Any] = {
        "caid": algo.client_algo_id,
        "aid": algo.algo_id,
        "at": "CONDITIONAL",
        "o": algo.order_type,
        "s": algo.symbol,
        "S": algo.side,
        "ps": "BOTH",
        "f": algo.time_in_force,
        "q": _qty(market, algo.quantity),
        "X": algo.status,
        "ai": str(placed.order_id) if placed else "",
        "ap": fmt8(placed.avg_price if placed else ZERO),
        "aq": _qty(market, placed.executed_qty if placed else ZERO),
        "act": placed.type if placed else "0",
        "tp": _price(market, algo.trigger_price),
        "p": _price(market, algo.price),
        "V": "EXPIRE_MAKER",
        "wt": "CONTRACT_PRICE",
        "pm": "NONE",
        "cp": algo.close_position,
        "pP": False,
        "R": algo.reduce_only,
        "tt": algo.trigger_time,
        "gtd": 0,
    }
    return {"e": "ALGO_UPDATE", "T": algo.update_time, "E": now, "o": update}
