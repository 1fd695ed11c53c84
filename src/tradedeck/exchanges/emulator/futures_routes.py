"""The Binance USDⓈ-M futures REST routes (``/fapi``): requests in, the engine, JSON out.

These are the endpoints the installed ccxt (``binanceusdm``, or ``binance`` with a linear
default type) calls: market data, orders and their history, the algo order API for
conditional orders, trades, leverage and margin type, leverage brackets and symbol config,
position risk (v3 by default, v2 with ``useV2``) and the account (v3, v2). One-way
position mode only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tradedeck.exchanges.emulator import futures_wire as fw
from tradedeck.exchanges.emulator.errors import (
    BinanceError,
    bad_parameter,
    fmt8,
    order_does_not_exist,
)
from tradedeck.exchanges.emulator.faults import Faults
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import FuturesMarket
from tradedeck.exchanges.emulator.history import all_orders
from tradedeck.exchanges.emulator.routing import (
    Wrap,
    decimal,
    flag,
    integer,
    order_reference,
    required,
)
from tradedeck.exchanges.emulator.wire import Print, kline_rows, selected_symbols, ticker_24h

RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]
FUTURES_HISTORY_HOURS = 7 * 24  # allOrders: the widest startTime..endTime window
DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


class FuturesApi:
    """The ``/fapi`` route table over one ``FuturesEngine``."""

    def __init__(self, engine: FuturesEngine, faults: Faults, clock: Callable[[], int]) -> None:
        self.engine = engine
        self.faults = faults
        self.clock = clock

    def routes(self, public: Wrap, signed: Wrap) -> list[Route]:
        every = ["GET", "POST", "DELETE"]
        return [
            Route("/fapi/v1/ping", public(self._ping)),
            Route("/fapi/v1/time", public(self._time)),
            Route("/fapi/v1/exchangeInfo", public(self._exchange_info)),
            Route("/fapi/v1/ticker/24hr", public(self._ticker_24hr)),
            Route("/fapi/v1/ticker/price", public(self._ticker_price)),
            Route("/fapi/v2/ticker/price", public(self._ticker_price)),
            Route("/fapi/v1/ticker/bookTicker", public(self._book_ticker)),
            Route("/fapi/v1/klines", public(self._klines)),
            Route("/fapi/v1/order", signed(self._order), methods=every),
            Route("/fapi/v1/openOrders", signed(self._open_orders)),
            Route("/fapi/v1/allOrders", signed(self._all_orders)),
            Route("/fapi/v1/allOpenOrders", signed(self._cancel_all), methods=["DELETE"]),
            Route("/fapi/v1/algoOrder", signed(self._algo_order), methods=every),
            Route("/fapi/v1/openAlgoOrders", signed(self._open_algo_orders)),
            Route("/fapi/v1/algoOpenOrders", signed(self._cancel_all_algo), methods=["DELETE"]),
            Route("/fapi/v1/userTrades", signed(self._user_trades)),
            Route("/fapi/v1/leverage", signed(self._leverage), methods=["POST"]),
            Route("/fapi/v1/marginType", signed(self._margin_type), methods=["POST"]),
            Route("/fapi/v1/positionSide/dual", signed(self._position_mode)),
            Route("/fapi/v1/leverageBracket", signed(self._leverage_bracket)),
            Route("/fapi/v1/symbolConfig", signed(self._symbol_config)),
            Route("/fapi/v2/positionRisk", signed(self._position_risk_v2)),
            Route("/fapi/v3/positionRisk", signed(self._position_risk_v3)),
            Route("/fapi/v2/account", signed(self._account_v2)),
            Route("/fapi/v3/account", signed(self._account_v3)),
        ]

    # -- market data -----------------------------------------------------------------------

    async def _ping(self, request: Request, params: dict[str, str]) -> Any:
        return {}

    async def _time(self, request: Request, params: dict[str, str]) -> Any:
        return {"serverTime": self.clock()}

    async def _exchange_info(self, request: Request, params: dict[str, str]) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.clock(),
            "futuresType": "U_MARGINED",
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [fw.symbol_info(m) for m in self.engine.markets.values()],
        }

    def _symbols(self, params: dict[str, str]) -> tuple[list[FuturesMarket], bool]:
        return selected_symbols(params, self.engine.market, list(self.engine.markets.values()))

    async def _ticker_24hr(self, request: Request, params: dict[str, str]) -> Any:
        markets, single = self._symbols(params)
        tickers = []
        for m in markets:
            prints = [
                Print(t.id, t.time, t.price, t.qty)
                for t in self.engine.trades
                if t.symbol == m.symbol
            ]
            opened = self.engine.open_prices[m.symbol]
            tickers.append(ticker_24h(m.symbol, m.price, opened, prints, self.clock()))
        return tickers[0] if single else tickers

    async def _ticker_price(self, request: Request, params: dict[str, str]) -> Any:
        markets, single = self._symbols(params)
        now = self.clock()
        prices = [{"symbol": m.symbol, "price": fmt8(m.price), "time": now} for m in markets]
        return prices[0] if single else prices

    async def _book_ticker(self, request: Request, params: dict[str, str]) -> Any:
        markets, single = self._symbols(params)
        now = self.clock()
        books = [
            {
                "symbol": m.symbol,
                "bidPrice": fmt8(m.price),
                "bidQty": "1.000",
                "askPrice": fmt8(m.price),
                "askQty": "1.000",
                "time": now,
            }
            for m in markets
        ]
        return books[0] if single else books

    async def _klines(self, request: Request, params: dict[str, str]) -> Any:
        market = self.engine.market(required(params, "symbol"))
        return kline_rows(
            params, self.engine.klines, max_limit=1500, price=market.price, now_ms=self.clock()
        )

    # -- orders ----------------------------------------------------------------------------

    async def _order(self, request: Request, params: dict[str, str]) -> Any:
        market = self.engine.market(required(params, "symbol"))
        if request.method == "POST":
            _one_way(params)
            order = self.engine.place(
                symbol=market.symbol,
                side=required(params, "side"),
                type=required(params, "type"),
                quantity=decimal(params, "quantity"),
                price=decimal(params, "price"),
                client_order_id=params.get("newClientOrderId"),
                time_in_force=params.get("timeInForce"),
                reduce_only=flag(params, "reduceOnly"),
            )
            await self.faults.after_order_accepted(request)
            return fw.order(order, market, queried=False)
        order_id, client_id = order_reference(params, "orderId", "origClientOrderId")
        if request.method == "DELETE":
            canceled = self.engine.cancel(market.symbol, order_id, client_id)
            return fw.order(canceled, market, queried=False)
        found = self.engine.find(market.symbol, order_id, client_id)
        if found is None:
            raise order_does_not_exist()
        return fw.order(found, market, queried=True)

    async def _open_orders(self, request: Request, params: dict[str, str]) -> Any:
        return [
            fw.order(o, self.engine.markets[o.symbol], queried=True)
            for o in self.engine.open_orders(params.get("symbol"))
        ]

    async def _all_orders(self, request: Request, params: dict[str, str]) -> Any:
        market = self.engine.market(required(params, "symbol"))
        of_symbol = (o for o in self.engine.orders.values() if o.symbol == market.symbol)
        chosen = all_orders(of_symbol, params, max_window_hours=FUTURES_HISTORY_HOURS)
        return [fw.order(o, market, queried=True) for o in chosen]

    async def _cancel_all(self, request: Request, params: dict[str, str]) -> Any:
        self.engine.cancel_all(self.engine.market(required(params, "symbol")).symbol)
        return DONE

    async def _algo_order(self, request: Request, params: dict[str, str]) -> Any:
        if request.method == "POST":
            market = self.engine.market(required(params, "symbol"))
            if required(params, "algoType") != "CONDITIONAL":
                raise bad_parameter("algoType")
            _one_way(params)
            algo = self.engine.algo.place(
                market,
                side=required(params, "side"),
                order_type=required(params, "type"),
                quantity=decimal(params, "quantity"),
                price=decimal(params, "price"),
                trigger_price=decimal(params, "triggerPrice"),
                client_algo_id=params.get("clientAlgoId"),
                time_in_force=params.get("timeInForce"),
                reduce_only=flag(params, "reduceOnly"),
                close_position=flag(params, "closePosition"),
            )
            await self.faults.after_order_accepted(request)
            return fw.algo_order(algo, market)
        algo_id, client_id = order_reference(params, "algoId", "clientAlgoId")
        if request.method == "DELETE":
            canceled = self.engine.algo.cancel(algo_id, client_id)
            return {
                "algoId": canceled.algo_id,
                "clientAlgoId": canceled.client_algo_id,
                "code": "200",
                "msg": "success",
            }
        found = self.engine.algo.find(algo_id, client_id)
        if found is None:
            raise order_does_not_exist()
        return fw.algo_order(found, self.engine.markets[found.symbol])

    async def _open_algo_orders(self, request: Request, params: dict[str, str]) -> Any:
        symbol = params.get("symbol")
        if symbol is not None:
            self.engine.market(symbol)
        return [
            fw.algo_order(a, self.engine.markets[a.symbol]) for a in self.engine.algo.open(symbol)
        ]

    async def _cancel_all_algo(self, request: Request, params: dict[str, str]) -> Any:
        self.engine.algo.cancel_all(self.engine.market(required(params, "symbol")).symbol)
        return DONE

    async def _user_trades(self, request: Request, params: dict[str, str]) -> Any:
        market = self.engine.market(required(params, "symbol"))
        order_id, start, end, from_id = (
            integer(params, k) for k in ("orderId", "startTime", "endTime", "fromId")
        )
        limit = min(integer(params, "limit") or 500, 1000)
        trades = [
            t
            for t in self.engine.trades
            if t.symbol == market.symbol
            and (order_id is None or t.order_id == order_id)
            and (start is None or t.time >= start)
            and (end is None or t.time <= end)
            and (from_id is None or t.id >= from_id)
        ]
        return [fw.trade(t, market) for t in trades[:limit]]

    # -- account and settings --------------------------------------------------------------

    async def _leverage(self, request: Request, params: dict[str, str]) -> Any:
        leverage = integer(params, "leverage")
        if leverage is None:
            raise bad_parameter("leverage")
        position = self.engine.set_leverage(required(params, "symbol"), leverage)
        return {
            "leverage": position.leverage,
            "maxNotionalValue": fw.MAX_NOTIONAL,
            "symbol": position.symbol,
        }

    async def _margin_type(self, request: Request, params: dict[str, str]) -> Any:
        self.engine.set_margin_type(required(params, "symbol"), required(params, "marginType"))
        return {"code": 200, "msg": "success"}

    async def _position_mode(self, request: Request, params: dict[str, str]) -> Any:
        return {"dualSidePosition": False}

    async def _leverage_bracket(self, request: Request, params: dict[str, str]) -> Any:
        markets, _ = self._symbols(params)
        return [fw.leverage_bracket(m) for m in markets]

    async def _symbol_config(self, request: Request, params: dict[str, str]) -> Any:
        markets, _ = self._symbols(params)
        return [fw.symbol_config(self.engine.positions[m.symbol]) for m in markets]

    async def _position_risk_v2(self, request: Request, params: dict[str, str]) -> Any:
        markets, _ = self._symbols(params)
        return [fw.position_risk_v2(self.engine, self.engine.positions[m.symbol]) for m in markets]

    async def _position_risk_v3(self, request: Request, params: dict[str, str]) -> Any:
        """Only symbols with a position or open orders, as v3 answers."""
        markets, _ = self._symbols(params)
        active = {o.symbol for o in self.engine.open_orders(None)}
        return [
            fw.position_risk_v3(self.engine, self.engine.positions[m.symbol])
            for m in markets
            if self.engine.positions[m.symbol].amount or m.symbol in active
        ]

    async def _account_v2(self, request: Request, params: dict[str, str]) -> Any:
        return fw.account(self.engine, v2=True)

    async def _account_v3(self, request: Request, params: dict[str, str]) -> Any:
        return fw.account(self.engine, v2=False)


def _one_way(params: dict[str, str]) -> None:
    """One-way mode: ``positionSide`` may only be BOTH."""
    if params.get("positionSide", "BOTH") != "BOTH":
        raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
