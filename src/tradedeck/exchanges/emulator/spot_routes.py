"""The Binance spot REST routes (``/api/v3``): requests in, the spot engine, JSON out.

Every endpoint ccxt's binance class calls for spot trading is here, the order history
(``allOrders``) included, and the two OCO entry points (``orderList/oco`` with above/below
legs, and the legacy ``order/oco`` with price/stopPrice/stopLimitPrice) and the order-list
queries and cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tradedeck.exchanges.emulator import spot_wire
from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError, fmt8, order_does_not_exist
from tradedeck.exchanges.emulator.faults import Faults
from tradedeck.exchanges.emulator.history import all_orders
from tradedeck.exchanges.emulator.routing import (
    Wrap,
    decimal,
    integer,
    order_reference,
    required,
)
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket, OcoLeg
from tradedeck.exchanges.emulator.spot_oco import place_oco
from tradedeck.exchanges.emulator.wire import Print, kline_rows, selected_symbols, ticker_24h

SPOT_HISTORY_HOURS = 24  # allOrders: the widest startTime..endTime window
RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
]


class SpotApi:
    """The spot route table over one ``SpotEngine``."""

    def __init__(self, engine: SpotEngine, faults: Faults, clock: Callable[[], int]) -> None:
        self.engine = engine
        self.faults = faults
        self.clock = clock

    def routes(self, public: Wrap, signed: Wrap) -> list[Route]:
        return [
            Route("/api/v3/ping", public(self._ping)),
            Route("/api/v3/time", public(self._time)),
            Route("/api/v3/exchangeInfo", public(self._exchange_info)),
            Route("/api/v3/ticker/24hr", public(self._ticker_24hr)),
            Route("/api/v3/ticker/price", public(self._ticker_price)),
            Route("/api/v3/ticker/bookTicker", public(self._book_ticker)),
            Route("/api/v3/klines", public(self._klines)),
            Route("/api/v3/account", signed(self._account)),
            Route("/api/v3/order", signed(self._order), methods=["GET", "POST", "DELETE"]),
            Route("/api/v3/openOrders", signed(self._open_orders), methods=["GET", "DELETE"]),
            Route("/api/v3/allOrders", signed(self._all_orders)),
            Route("/api/v3/myTrades", signed(self._my_trades)),
            Route("/api/v3/orderList/oco", signed(self._oco), methods=["POST"]),
            Route("/api/v3/order/oco", signed(self._legacy_oco), methods=["POST"]),
            Route("/api/v3/orderList", signed(self._order_list), methods=["GET", "DELETE"]),
            Route("/api/v3/openOrderList", signed(self._open_order_lists)),
        ]

    # -- public ----------------------------------------------------------------------------

    async def _ping(self, request: Request, params: dict[str, str]) -> Any:
        return {}

    async def _time(self, request: Request, params: dict[str, str]) -> Any:
        return {"serverTime": self.clock()}

    async def _exchange_info(self, request: Request, params: dict[str, str]) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.clock(),
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": [spot_wire.symbol_info(m) for m in self.engine.markets.values()],
        }

    def _symbols(self, params: dict[str, str]) -> tuple[list[EmulatorMarket], bool]:
        return selected_symbols(params, self.engine.market, list(self.engine.markets.values()))

    async def _ticker_24hr(self, request: Request, params: dict[str, str]) -> Any:
        markets, single = self._symbols(params)
        tickers = [self._ticker(m) for m in markets]
        return tickers[0] if single else tickers

    async def _ticker_price(self, request: Request, params: dict[str, str]) -> Any:
        markets, single = self._symbols(params)
        prices = [{"symbol": m.symbol, "price": fmt8(m.price)} for m in markets]
        return prices[0] if single else prices

    async def _book_ticker(self, request: Request, params: dict[str, str]) -> Any:
        markets, single = self._symbols(params)
        books = [{"symbol": m.symbol} | _touch(m.price) for m in markets]
        return books[0] if single else books

    def _ticker(self, market: EmulatorMarket) -> dict[str, Any]:
        prints = [
            Print(t.id, t.time, t.price, t.qty)
            for t in self.engine.trades
            if t.symbol == market.symbol
        ]
        opened = self.engine.open_prices[market.symbol]
        ticker = ticker_24h(market.symbol, market.price, opened, prints, self.clock())
        return ticker | {"prevClosePrice": fmt8(opened)} | _touch(market.price)

    async def _klines(self, request: Request, params: dict[str, str]) -> Any:
        market = self.engine.market(required(params, "symbol"))
        return kline_rows(
            params, self.engine.klines, max_limit=1000, price=market.price, now_ms=self.clock()
        )

    # -- account and orders ----------------------------------------------------------------

    async def _account(self, request: Request, params: dict[str, str]) -> Any:
        omit_zero = params.get("omitZeroBalances") == "true"
        balances = [
            {"asset": name, "free": fmt8(asset.free), "locked": fmt8(asset.locked)}
            for name, asset in sorted(self.engine.balances.items())
            if not (omit_zero and asset.free == 0 and asset.locked == 0)
        ]
        zero_rates = {k: "0.00000000" for k in ("maker", "taker", "buyer", "seller")}
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": zero_rates,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.clock(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 1,
        }

    async def _order(self, request: Request, params: dict[str, str]) -> Any:
        symbol = required(params, "symbol")
        if request.method == "POST":
            order = self.engine.place(
                symbol=symbol,
                side=required(params, "side"),
                type=required(params, "type"),
                quantity=decimal(params, "quantity"),
                price=decimal(params, "price"),
                client_order_id=params.get("newClientOrderId"),
                time_in_force=params.get("timeInForce"),
                quote_order_qty=decimal(params, "quoteOrderQty"),
                stop_price=decimal(params, "stopPrice"),
            )
            await self.faults.after_order_accepted(request)
            return spot_wire.order_result(order, full=True)
        order_id, client_id = order_reference(params, "orderId", "origClientOrderId")
        if request.method == "DELETE":
            return spot_wire.cancel_result(self.engine.cancel(symbol, order_id, client_id))
        found = self.engine.find(symbol, order_id, client_id)
        if found is None:
            raise order_does_not_exist()
        return spot_wire.order_status(found)

    async def _open_orders(self, request: Request, params: dict[str, str]) -> Any:
        if request.method == "DELETE":
            canceled = self.engine.cancel_all(required(params, "symbol"))
            return [spot_wire.cancel_result(o) for o in canceled]
        return [spot_wire.order_status(o) for o in self.engine.open_orders(params.get("symbol"))]

    async def _all_orders(self, request: Request, params: dict[str, str]) -> Any:
        symbol = self.engine.market(required(params, "symbol")).symbol
        of_symbol = (o for o in self.engine.orders.values() if o.symbol == symbol)
        chosen = all_orders(of_symbol, params, max_window_hours=SPOT_HISTORY_HOURS)
        return [spot_wire.order_status(o) for o in chosen]

    async def _my_trades(self, request: Request, params: dict[str, str]) -> Any:
        symbol = required(params, "symbol")
        self.engine.market(symbol)
        order_id, start, end, from_id = (
            integer(params, k) for k in ("orderId", "startTime", "endTime", "fromId")
        )
        limit = min(integer(params, "limit") or 500, 1000)
        trades = [
            t
            for t in self.engine.trades
            if t.symbol == symbol
            and (order_id is None or t.order_id == order_id)
            and (start is None or t.time >= start)
            and (end is None or t.time <= end)
            and (from_id is None or t.id >= from_id)
        ]
        return [spot_wire.trade_result(t) for t in trades[:limit]]

    # -- order lists (OCO) -----------------------------------------------------------------

    async def _oco(self, request: Request, params: dict[str, str]) -> Any:
        def leg(prefix: str) -> OcoLeg:
            return OcoLeg(
                type=required(params, f"{prefix}Type"),
                price=decimal(params, f"{prefix}Price"),
                stop_price=decimal(params, f"{prefix}StopPrice"),
                time_in_force=params.get(f"{prefix}TimeInForce"),
                client_order_id=params.get(f"{prefix}ClientOrderId"),
            )

        return await self._place_oco(request, params, leg("above"), leg("below"))

    async def _legacy_oco(self, request: Request, params: dict[str, str]) -> Any:
        """``order/oco``: a limit maker at ``price`` and a stop at ``stopPrice``."""
        stop_limit = decimal(params, "stopLimitPrice")
        limit = OcoLeg(
            type="LIMIT_MAKER",
            price=decimal(params, "price"),
            client_order_id=params.get("limitClientOrderId"),
        )
        stop = OcoLeg(
            type="STOP_LOSS_LIMIT" if stop_limit is not None else "STOP_LOSS",
            price=stop_limit,
            stop_price=decimal(params, "stopPrice"),
            time_in_force=params.get("stopLimitTimeInForce"),
            client_order_id=params.get("stopClientOrderId"),
        )
        above, below = (limit, stop) if params.get("side") == "SELL" else (stop, limit)
        return await self._place_oco(request, params, above, below)

    async def _place_oco(
        self, request: Request, params: dict[str, str], above: OcoLeg, below: OcoLeg
    ) -> Any:
        order_list = place_oco(
            self.engine,
            symbol=required(params, "symbol"),
            side=required(params, "side"),
            quantity=decimal(params, "quantity"),
            above=above,
            below=below,
            list_client_order_id=params.get("listClientOrderId"),
        )
        await self.faults.after_order_accepted(request)
        return spot_wire.order_list(order_list, self.engine.legs(order_list), reports=True)

    async def _order_list(self, request: Request, params: dict[str, str]) -> Any:
        client_key = "listClientOrderId" if request.method == "DELETE" else "origClientOrderId"
        list_id, client_id = order_reference(params, "orderListId", client_key)
        found = self.engine.find_list(list_id, client_id)
        if request.method == "DELETE":
            symbol = required(params, "symbol")
            if found is None or found.symbol != symbol:
                raise BinanceError(400, -2011, "Unknown order list sent.")
            legs = self.engine.cancel_list(found)
            return spot_wire.order_list(found, legs, reports=True)
        if found is None:
            raise BinanceError(400, -2013, "Order list does not exist.")
        return spot_wire.order_list(found, self.engine.legs(found), reports=False)

    async def _open_order_lists(self, request: Request, params: dict[str, str]) -> Any:
        with_legs = [(each, self.engine.legs(each)) for each in self.engine.order_lists.values()]
        return [
            spot_wire.order_list(each, legs, reports=False)
            for each, legs in with_legs
            if any(leg.open for leg in legs)
        ]


def _touch(price: Decimal) -> dict[str, str]:
    """Best bid and ask: there is no book, both sit at the last price."""
    return {
        "bidPrice": fmt8(price),
        "bidQty": "1.00000000",
        "askPrice": fmt8(price),
        "askQty": "1.00000000",
    }
