"""Binance USDⓈ-M futures' JSON shapes: perpetuals, orders, algo orders, trades, positions.

They differ from spot's in ways ccxt relies on: prices and quantities carry the symbol's
own precision (``"30000.10"``, ``"0.010"``), orders have ``positionSide``/``reduceOnly``/
``cumQuote`` (which is how ccxt tells a contract order from a spot one), position risk v3
drops ``leverage``/``marginType`` that v2 still sends, and account assets need a non-zero
``updateTime`` or ccxt leaves them out of the balance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradedeck.exchanges.emulator import futures_margin as fm
from tradedeck.exchanges.emulator.errors import fmt8
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import (
    ALGO_TYPES,
    ZERO,
    AlgoOrder,
    FuturesMarket,
    FuturesOrder,
    FuturesTrade,
    Position,
)

MAX_NOTIONAL = "1000000000"
_UNPREFIXED = ("availableBalance", "maxWithdrawAmount")  # account totals without "total"


def _price(market: FuturesMarket, value: Decimal) -> str:
    return f"{value:.{market.price_precision}f}"


def _qty(market: FuturesMarket, value: Decimal) -> str:
    return f"{value:.{market.quantity_precision}f}"


def symbol_info(m: FuturesMarket) -> dict[str, Any]:
    return {
        "symbol": m.symbol,
        "pair": m.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": m.base,
        "quoteAsset": m.quote,
        "marginAsset": m.quote,
        "pricePrecision": m.price_precision,
        "quantityPrecision": m.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _price(m, m.min_price),
                "maxPrice": _price(m, m.max_price),
                "tickSize": _price(m, m.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _qty(m, m.min_qty),
                "maxQty": _qty(m, m.max_qty),
                "stepSize": _qty(m, m.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": _qty(m, m.min_qty),
                "maxQty": _qty(m, m.market_max_qty),
                "stepSize": _qty(m, m.step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": f"{m.min_notional.normalize():f}"},
        ],
        "orderTypes": ["LIMIT", "MARKET", *sorted(ALGO_TYPES)],  # no trailing stops here
        "timeInForce": ["GTC"],
    }


def order(o: FuturesOrder, market: FuturesMarket, *, queried: bool) -> dict[str, Any]:
    """An order; a query (``queried``) adds ``time``, a placement or cancel ``cumQty``."""
    result: dict[str, Any] = {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": _price(market, o.price),
        "avgPrice": fmt8(o.avg_price),
        "origQty": _qty(market, o.orig_qty),
        "executedQty": _qty(market, o.executed_qty),
        "cumQuote": fmt8(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side,
        "positionSide": "BOTH",
        "stopPrice": _price(market, o.stop_price),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": o.orig_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "updateTime": o.update_time,
    }
    if queried:
        result["time"] = o.time
    else:
        result["cumQty"] = _qty(market, o.executed_qty)
    return result


def algo_order(a: AlgoOrder, market: FuturesMarket) -> dict[str, Any]:
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type,
        "symbol": a.symbol,
        "side": a.side,
        "positionSide": "BOTH",
        "timeInForce": a.time_in_force,
        "quantity": _qty(market, a.quantity),
        "algoStatus": a.status,
        "actualOrderId": str(a.actual_order_id) if a.actual_order_id is not None else "",
        "triggerPrice": _price(market, a.trigger_price),
        "price": _price(market, a.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": "CONTRACT_PRICE",
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": False,
        "reduceOnly": a.reduce_only,
        "createTime": a.create_time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": 0,
    }


def trade(t: FuturesTrade, market: FuturesMarket) -> dict[str, Any]:
    return {
        "buyer": t.side == "BUY",
        "commission": fmt8(t.commission),
        "commissionAsset": market.quote,
        "id": t.id,
        "maker": t.maker,
        "orderId": t.order_id,
        "price": _price(market, t.price),
        "qty": _qty(market, t.qty),
        "quoteQty": fmt8(t.price * t.qty),
        "realizedPnl": fmt8(t.realized_pnl),
        "side": t.side,
        "positionSide": "BOTH",
        "symbol": t.symbol,
        "time": t.time,
    }


def _position_core(engine: FuturesEngine, p: Position) -> dict[str, Any]:
    market = engine.markets[p.symbol]
    pnl = fm.unrealized_pnl(p, market)
    isolated_wallet = p.isolated_wallet if p.isolated else ZERO
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": _qty(market, p.amount),
        "entryPrice": fmt8(p.entry_price),
        "breakEvenPrice": fmt8(p.entry_price),
        "markPrice": fmt8(market.price),
        "unRealizedProfit": fmt8(pnl),
        "liquidationPrice": fmt8(engine.liquidation_price(p)),
        "isolatedMargin": fmt8(isolated_wallet + pnl if p.isolated and p.amount else ZERO),
        "notional": fmt8(fm.notional(p, market)),
        "isolatedWallet": fmt8(isolated_wallet),
        "updateTime": p.update_time,
    }


def position_risk_v2(engine: FuturesEngine, p: Position) -> dict[str, Any]:
    return _position_core(engine, p) | {
        "marginType": "isolated" if p.isolated else "cross",
        "isAutoAddMargin": "false",
        "leverage": str(p.leverage),
        "maxNotionalValue": MAX_NOTIONAL,
    }


def position_risk_v3(engine: FuturesEngine, p: Position) -> dict[str, Any]:
    market = engine.markets[p.symbol]
    return _position_core(engine, p) | {
        "marginAsset": market.quote,
        "initialMargin": fmt8(fm.initial_margin(p, market)),
        "maintMargin": fmt8(fm.maintenance_margin(p, market)),
        "positionInitialMargin": fmt8(fm.initial_margin(p, market)),
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
    }


def account(engine: FuturesEngine, *, v2: bool) -> dict[str, Any]:
    """``/fapi/v3/account`` (or v2, which adds settings and per-position leverage)."""
    positions = list(engine.positions.values())
    pnl = sum((fm.unrealized_pnl(p, engine.markets[p.symbol]) for p in positions), ZERO)
    cross_pnl = sum(
        (fm.unrealized_pnl(p, engine.markets[p.symbol]) for p in positions if not p.isolated),
        ZERO,
    )
    position_margin = sum((fm.initial_margin(p, engine.markets[p.symbol]) for p in positions), ZERO)
    order_margin = engine.open_order_margin()
    maint = sum((fm.maintenance_margin(p, engine.markets[p.symbol]) for p in positions), ZERO)
    available = engine.available()
    figures = {
        "walletBalance": fmt8(engine.wallet),
        "unrealizedProfit": fmt8(pnl),
        "marginBalance": fmt8(engine.wallet + pnl),
        "maintMargin": fmt8(maint),
        "initialMargin": fmt8(position_margin + order_margin),
        "positionInitialMargin": fmt8(position_margin),
        "openOrderInitialMargin": fmt8(order_margin),
        "crossWalletBalance": fmt8(engine.cross_wallet()),
        "crossUnPnl": fmt8(cross_pnl),
        "availableBalance": fmt8(available),
        "maxWithdrawAmount": fmt8(max(ZERO, min(available, engine.cross_wallet()))),
    }
    asset = {"asset": "USDT"} | figures | {"updateTime": engine.wallet_update_time}
    result: dict[str, Any] = {
        (k if k in _UNPREFIXED else "total" + k[0].upper() + k[1:]): v for k, v in figures.items()
    }
    result["assets"] = [asset]
    held = [p for p in positions if p.amount != ZERO]
    if v2:
        result |= {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "feeBurn": False,
            "tradeGroupId": -1,
            "updateTime": 0,
            "multiAssetsMargin": False,
        }
        asset["marginAvailable"] = True
        result["positions"] = [_account_position_v2(engine, p) for p in positions]
    else:
        result["positions"] = [_account_position_v3(engine, p) for p in held]
    return result


def _account_position_v3(engine: FuturesEngine, p: Position) -> dict[str, Any]:
    market = engine.markets[p.symbol]
    core = _position_core(engine, p)
    keep = ("symbol", "positionSide", "positionAmt", "isolatedMargin", "notional")
    return {k: core[k] for k in keep} | {
        "unrealizedProfit": core["unRealizedProfit"],
        "isolatedWallet": core["isolatedWallet"],
        "initialMargin": fmt8(fm.initial_margin(p, market)),
        "maintMargin": fmt8(fm.maintenance_margin(p, market)),
        "updateTime": p.update_time,
    }


def _account_position_v2(engine: FuturesEngine, p: Position) -> dict[str, Any]:
    market = engine.markets[p.symbol]
    return _account_position_v3(engine, p) | {
        "leverage": str(p.leverage),
        "entryPrice": fmt8(p.entry_price),
        "breakEvenPrice": fmt8(p.entry_price),
        "positionInitialMargin": fmt8(fm.initial_margin(p, market)),
        "openOrderInitialMargin": "0",
        "isolated": p.isolated,
        "maxNotional": MAX_NOTIONAL,
        "bidNotional": "0",
        "askNotional": "0",
    }


def leverage_bracket(m: FuturesMarket) -> dict[str, Any]:
    """One bracket: the whole notional range at the symbol's single maintenance rate."""
    return {
        "symbol": m.symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": m.max_leverage,
                "notionalCap": int(MAX_NOTIONAL),
                "notionalFloor": 0,
                "maintMarginRatio": float(m.maint_margin_rate),
                "cum": 0.0,
            }
        ],
    }


def symbol_config(p: Position) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "marginType": p.margin_type,
        "isAutoAddMargin": False,
        "leverage": p.leverage,
        "maxNotionalValue": MAX_NOTIONAL,
    }
