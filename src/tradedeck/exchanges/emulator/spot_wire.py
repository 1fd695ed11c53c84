"""Binance spot's JSON shapes for markets, orders, order lists and trades.

Field names, eight-place decimal strings and the per-endpoint variations (``fills`` on a
new order, ``isWorking``/``stopPrice`` on a query, ``origClientOrderId`` on a cancel,
``orderReports`` on an order list) follow api.binance.com, because ccxt parses exactly these.
"""

from __future__ import annotations

from typing import Any

from tradedeck.exchanges.emulator.errors import fmt8
from tradedeck.exchanges.emulator.spot_models import (
    EmulatorMarket,
    EmulatorOrder,
    OrderList,
    Trade,
)

ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]


def symbol_info(m: EmulatorMarket) -> dict[str, Any]:
    return {
        "symbol": m.symbol,
        "status": "TRADING",
        "baseAsset": m.base,
        "baseAssetPrecision": 8,
        "quoteAsset": m.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": False,
        "ocoAllowed": True,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt8(m.min_price),
                "maxPrice": fmt8(m.max_price),
                "tickSize": fmt8(m.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt8(m.min_qty),
                "maxQty": fmt8(m.max_qty),
                "stepSize": fmt8(m.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt8(m.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def _base_fields(order: EmulatorOrder) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "price": fmt8(order.price),
        "origQty": fmt8(order.orig_qty),
        "executedQty": fmt8(order.executed_qty),
        "cummulativeQuoteQty": fmt8(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force or "GTC",
        "type": order.type,
        "side": order.side,
        "selfTradePreventionMode": "NONE",
    }


def _stop_fields(order: EmulatorOrder) -> dict[str, Any]:
    return {"stopPrice": fmt8(order.stop_price)} if order.stop_price else {}


def order_result(order: EmulatorOrder, *, full: bool) -> dict[str, Any]:
    """A new order's answer (``newOrderRespType`` FULL adds the fills)."""
    result = (
        _base_fields(order)
        | _stop_fields(order)
        | {"transactTime": order.time, "workingTime": order.working_time}
    )
    if full:
        result["fills"] = [
            {
                "price": fmt8(t.price),
                "qty": fmt8(t.qty),
                "commission": "0.00000000",
                "commissionAsset": t.commission_asset,
                "tradeId": t.id,
            }
            for t in order.fills
        ]
    return result


def order_status(order: EmulatorOrder) -> dict[str, Any]:
    """``GET /api/v3/order`` and ``openOrders``: the order as it stands."""
    return _base_fields(order) | {
        "stopPrice": fmt8(order.stop_price),
        "icebergQty": "0.00000000",
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": order.working,
        "workingTime": order.working_time,
        "origQuoteOrderQty": "0.00000000",
    }


def cancel_result(order: EmulatorOrder) -> dict[str, Any]:
    return (
        _base_fields(order)
        | _stop_fields(order)
        | {"origClientOrderId": order.client_order_id, "transactTime": order.update_time}
    )


def order_list(
    order_list: OrderList, legs: list[EmulatorOrder], *, reports: bool
) -> dict[str, Any]:
    """An OCO as ``orderList`` endpoints show it; ``reports`` adds each leg in full."""
    done = not any(leg.open for leg in legs)
    result: dict[str, Any] = {
        "orderListId": order_list.order_list_id,
        "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": order_list.list_client_order_id,
        "transactionTime": max(leg.update_time for leg in legs),
        "symbol": order_list.symbol,
        "orders": [
            {"symbol": leg.symbol, "orderId": leg.order_id, "clientOrderId": leg.client_order_id}
            for leg in legs
        ],
    }
    if reports:
        result["orderReports"] = [
            _base_fields(leg)
            | _stop_fields(leg)
            | {"transactTime": leg.update_time, "workingTime": leg.working_time}
            for leg in legs
        ]
    return result


def trade_result(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "id": t.id,
        "orderId": t.order_id,
        "orderListId": t.order_list_id,
        "price": fmt8(t.price),
        "qty": fmt8(t.qty),
        "quoteQty": fmt8(t.price * t.qty),
        "commission": "0.00000000",
        "commissionAsset": t.commission_asset,
        "time": t.time,
        "isBuyer": t.side == "BUY",
        "isMaker": t.maker,
        "isBestMatch": True,
    }
