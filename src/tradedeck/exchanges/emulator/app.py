"""The Binance spot REST API over HTTP, for the real ccxt client to talk to on loopback.

Why real HTTP. The live adapter's bugs live in the seams: how ccxt signs, which endpoints
``load_markets`` touches, how an error body becomes an exception, what happens when the
answer never comes. Only the real ``ccxt.async_support.binance`` talking to a real socket
exercises those, so the emulator speaks Binance's wire format (paths, form/query params,
``{"code","msg"}`` errors, eight-place decimal strings) and nothing is mocked in between.

Why faults are explicit. A test says what should go wrong next: ``rate_limit_next`` answers
429 with ``Retry-After`` (418 once a client keeps going), ``latency`` delays everything,
``hang_next_order`` accepts an order and then withholds the answer until the client gives
up (the order exists; only the reply is lost), and ``drop_next`` cuts the connection. The
test, or a demo over ``/_control``, also moves prices, so fills happen when it decides.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tradedeck.exchanges.emulator.auth import check_api_key, check_signed
from tradedeck.exchanges.emulator.engine import (
    BinanceError,
    EmulatorMarket,
    EmulatorOrder,
    Kline,
    SpotEngine,
    Trade,
    bad_parameter,
    fmt8,
    order_does_not_exist,
)

Handler = Callable[[Request, dict[str, str]], Awaitable[Any]]

_BAD_CONTROL = (KeyError, TypeError, ValueError, InvalidOperation)

BAN_AFTER = 2  # 429s answered in a row before the emulator bans with 418


def default_markets() -> list[EmulatorMarket]:
    return [
        EmulatorMarket(base="BTC", quote="USDT", price=Decimal("30000")),
        EmulatorMarket(
            base="ETH",
            quote="USDT",
            price=Decimal("2000"),
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
        ),
    ]


@dataclass
class Faults:
    """What goes wrong next; every field is set by a test."""

    latency: float = 0.0
    rate_limited: int = 0
    retry_after: int = 1
    hang_orders: int = 0
    hang_seconds: float = 30.0
    drop: int = 0
    consecutive_429: int = 0


class DropConnection(Exception):
    """Raised after the response head so the server closes the socket mid-response."""


@dataclass
class BinanceEmulator:
    """One emulated Binance spot account set; ``app`` is the ASGI application."""

    markets: list[EmulatorMarket] = field(default_factory=default_markets)
    api_keys: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))

    def __post_init__(self) -> None:
        self.engine = SpotEngine(self.markets, self.clock)
        self.faults = Faults()
        self.app = Starlette(routes=self._routes())

    # -- test controls ---------------------------------------------------------------------

    def add_key(self, api_key: str, secret: str) -> None:
        self.api_keys[api_key] = secret

    def deposit(self, asset: str, amount: Decimal | str) -> None:
        self.engine.deposit(asset, Decimal(amount))

    def set_price(self, symbol: str, price: Decimal | str) -> list[Trade]:
        return self.engine.set_price(symbol, Decimal(price))

    def fill_next_in_steps(self, steps: int) -> None:
        self.engine.fill_next_in_steps(steps)

    def set_klines(self, symbol: str, interval: str, klines: list[Kline]) -> None:
        self.engine.set_klines(symbol, interval, klines)

    def rate_limit_next(self, requests: int, retry_after: int = 1) -> None:
        self.faults.rate_limited = requests
        self.faults.retry_after = retry_after

    def hang_next_order(self, seconds: float = 30.0) -> None:
        """Accept the next order, then hold its reply until the client hangs up (or ``seconds``)."""
        self.faults.hang_orders += 1
        self.faults.hang_seconds = seconds

    def drop_next(self, requests: int = 1) -> None:
        self.faults.drop = requests

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        def public(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            return self._endpoint(handler, signed=False)

        def signed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            return self._endpoint(handler, signed=True)

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
            Route("/api/v3/myTrades", signed(self._my_trades)),
            Route("/_control/price", self._control_price, methods=["POST"]),
            Route("/_control/deposit", self._control_deposit, methods=["POST"]),
            Route("/_control/steps", self._control_steps, methods=["POST"]),
        ]

    def _endpoint(
        self, handler: Handler, *, signed: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            limited = self._rate_limit()
            if limited is not None:
                return limited
            body = (await request.body()).decode()
            query = request.url.query
            try:
                if signed:
                    secret = check_api_key(request.headers.get("X-MBX-APIKEY"), self.api_keys)
                    check_signed(query, body, secret, self.clock())
                params = dict(parse_qsl(query)) | dict(parse_qsl(body))
                result = await handler(request, params)
            except BinanceError as error:
                return JSONResponse(error.payload(), status_code=error.status)
            if self.faults.drop:
                self.faults.drop -= 1
                return _Dropped()
            return JSONResponse(result)

        return endpoint

    def _rate_limit(self) -> Response | None:
        if not self.faults.rate_limited:
            self.faults.consecutive_429 = 0
            return None
        self.faults.rate_limited -= 1
        self.faults.consecutive_429 += 1
        headers = {"Retry-After": str(self.faults.retry_after)}
        if self.faults.consecutive_429 > BAN_AFTER:
            until = self.clock() + self.faults.retry_after * 1000
            payload = {
                "code": -1003,
                "msg": f"Way too much request weight used; IP banned until {until}.",
            }
            return JSONResponse(payload, status_code=418, headers=headers)
        payload = {
            "code": -1003,
            "msg": "Too much request weight used; please use WebSocket Streams.",
        }
        return JSONResponse(payload, status_code=429, headers=headers)

    # -- public ----------------------------------------------------------------------------

    async def _ping(self, request: Request, params: dict[str, str]) -> Any:
        return {}

    async def _time(self, request: Request, params: dict[str, str]) -> Any:
        return {"serverTime": self.clock()}

    async def _exchange_info(self, request: Request, params: dict[str, str]) -> Any:
        return {
            "timezone": "UTC",
            "serverTime": self.clock(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(m) for m in self.engine.markets.values()],
        }

    def _symbols(self, params: dict[str, str]) -> tuple[list[EmulatorMarket], bool]:
        if "symbol" in params:
            return [self.engine.market(params["symbol"])], True
        if "symbols" in params:
            try:
                names = json.loads(params["symbols"])
            except ValueError as error:
                raise bad_parameter("symbols") from error
            return [self.engine.market(str(n)) for n in names], False
        return list(self.engine.markets.values()), False

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
        books = [
            {
                "symbol": m.symbol,
                "bidPrice": fmt8(m.price),
                "bidQty": "1.00000000",
                "askPrice": fmt8(m.price),
                "askQty": "1.00000000",
            }
            for m in markets
        ]
        return books[0] if single else books

    def _ticker(self, market: EmulatorMarket) -> dict[str, Any]:
        now = self.clock()
        trades = [
            t
            for t in self.engine.trades
            if t.symbol == market.symbol and t.time >= now - 86_400_000
        ]
        prices = [t.price for t in trades] + [market.price, self.engine.open_prices[market.symbol]]
        opened = self.engine.open_prices[market.symbol]
        volume = sum((t.qty for t in trades), Decimal(0))
        quote_volume = sum((t.qty * t.price for t in trades), Decimal(0))
        change = market.price - opened
        return {
            "symbol": market.symbol,
            "priceChange": fmt8(change),
            "priceChangePercent": f"{change / opened * 100:.3f}",
            "weightedAvgPrice": fmt8(quote_volume / volume if volume else market.price),
            "prevClosePrice": fmt8(opened),
            "lastPrice": fmt8(market.price),
            "lastQty": fmt8(trades[-1].qty if trades else Decimal(0)),
            "bidPrice": fmt8(market.price),
            "bidQty": "1.00000000",
            "askPrice": fmt8(market.price),
            "askQty": "1.00000000",
            "openPrice": fmt8(opened),
            "highPrice": fmt8(max(prices)),
            "lowPrice": fmt8(min(prices)),
            "volume": fmt8(volume),
            "quoteVolume": fmt8(quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": trades[0].id if trades else -1,
            "lastId": trades[-1].id if trades else -1,
            "count": len(trades),
        }

    async def _klines(self, request: Request, params: dict[str, str]) -> Any:
        symbol = _required(params, "symbol")
        interval = _required(params, "interval")
        self.engine.market(symbol)
        rows = self.engine.klines.get((symbol, interval), [])
        start, end = _int(params, "startTime"), _int(params, "endTime")
        limit = min(_int(params, "limit") or 500, 1000)
        selected = [
            k
            for k in rows
            if (start is None or k.open_time >= start) and (end is None or k.open_time <= end)
        ]
        selected = selected[:limit] if start is not None else selected[-limit:]
        return [
            [
                k.open_time,
                fmt8(k.open),
                fmt8(k.high),
                fmt8(k.low),
                fmt8(k.close),
                fmt8(k.volume),
                k.close_time,
                fmt8(k.volume * k.close),
                0,
                "0.00000000",
                "0.00000000",
                "0",
            ]
            for k in selected
        ]

    # -- signed ----------------------------------------------------------------------------

    async def _account(self, request: Request, params: dict[str, str]) -> Any:
        omit_zero = params.get("omitZeroBalances") == "true"
        balances = [
            {"asset": name, "free": fmt8(asset.free), "locked": fmt8(asset.locked)}
            for name, asset in sorted(self.engine.balances.items())
            if not (omit_zero and asset.free == 0 and asset.locked == 0)
        ]
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00000000",
                "taker": "0.00000000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
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
        symbol = _required(params, "symbol")
        if request.method == "POST":
            order = self.engine.place(
                symbol=symbol,
                side=_required(params, "side"),
                type=_required(params, "type"),
                quantity=_decimal(params, "quantity"),
                price=_decimal(params, "price"),
                client_order_id=params.get("newClientOrderId"),
                time_in_force=params.get("timeInForce"),
                quote_order_qty=_decimal(params, "quoteOrderQty"),
            )
            if self.faults.hang_orders:
                self.faults.hang_orders -= 1
                await _hold(request, self.faults.hang_seconds)
            return _order_result(order, full=True)
        order_id = _int(params, "orderId")
        client_id = params.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise BinanceError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if request.method == "DELETE":
            return _cancel_result(self.engine.cancel(symbol, order_id, client_id))
        found = self.engine.find(symbol, order_id, client_id)
        if found is None:
            raise order_does_not_exist()
        return _order_status(found)

    async def _open_orders(self, request: Request, params: dict[str, str]) -> Any:
        if request.method == "DELETE":
            return [_cancel_result(o) for o in self.engine.cancel_all(_required(params, "symbol"))]
        return [_order_status(o) for o in self.engine.open_orders(params.get("symbol"))]

    async def _my_trades(self, request: Request, params: dict[str, str]) -> Any:
        symbol = _required(params, "symbol")
        self.engine.market(symbol)
        order_id, start, end, from_id = (
            _int(params, k) for k in ("orderId", "startTime", "endTime", "fromId")
        )
        limit = min(_int(params, "limit") or 500, 1000)
        trades = [
            t
            for t in self.engine.trades
            if t.symbol == symbol
            and (order_id is None or t.order_id == order_id)
            and (start is None or t.time >= start)
            and (end is None or t.time <= end)
            and (from_id is None or t.id >= from_id)
        ]
        return [_trade_result(t) for t in trades[:limit]]

    # -- control ---------------------------------------------------------------------------

    async def _control_price(self, request: Request) -> Response:
        try:
            data = await request.json()
            trades = self.set_price(str(data["symbol"]), Decimal(str(data["price"])))
        except _BAD_CONTROL as error:
            return JSONResponse({"error": "invalid_input", "detail": str(error)}, status_code=400)
        except BinanceError as error:
            return JSONResponse(error.payload(), status_code=error.status)
        return JSONResponse({"trades": len(trades)})

    async def _control_deposit(self, request: Request) -> Response:
        try:
            data = await request.json()
            amount = Decimal(str(data["amount"]))
            if not amount.is_finite() or amount <= 0:
                raise ValueError("amount must be positive")
            self.deposit(str(data["asset"]), amount)
        except _BAD_CONTROL as error:
            return JSONResponse({"error": "invalid_input", "detail": str(error)}, status_code=400)
        return JSONResponse({})

    async def _control_steps(self, request: Request) -> Response:
        try:
            data = await request.json()
            self.fill_next_in_steps(int(data["steps"]))
        except _BAD_CONTROL as error:
            return JSONResponse({"error": "invalid_input", "detail": str(error)}, status_code=400)
        return JSONResponse({})


class _Dropped(Response):
    """Sends a response head promising a body, then fails so the server closes the socket."""

    def __init__(self) -> None:
        super().__init__(
            status_code=200, headers={"content-length": "1000"}, media_type="application/json"
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b'{"symbol', "more_body": True})
        raise DropConnection("connection dropped by fault injection")


async def _hold(request: Request, seconds: float) -> None:
    """Wait until the client disconnects (it timed out) or ``seconds`` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(request.receive(), remaining)
        except TimeoutError:
            return
        if message["type"] == "http.disconnect":
            return


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise bad_parameter(name)
    return value


def _int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise bad_parameter(name)
    return int(value)


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = Decimal(value)
    except InvalidOperation as error:
        raise bad_parameter(name) from error
    if not parsed.is_finite() or parsed <= 0:
        raise bad_parameter(name)
    return parsed


def _symbol_info(m: EmulatorMarket) -> dict[str, Any]:
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
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
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
        "orderListId": -1,
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


def _order_result(order: EmulatorOrder, *, full: bool) -> dict[str, Any]:
    result = _base_fields(order) | {"transactTime": order.time, "workingTime": order.time}
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


def _order_status(order: EmulatorOrder) -> dict[str, Any]:
    return _base_fields(order) | {
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": order.time,
        "updateTime": order.update_time,
        "isWorking": True,
        "workingTime": order.time,
        "origQuoteOrderQty": "0.00000000",
    }


def _cancel_result(order: EmulatorOrder) -> dict[str, Any]:
    return _base_fields(order) | {
        "origClientOrderId": order.client_order_id,
        "transactTime": order.update_time,
    }


def _trade_result(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "id": t.id,
        "orderId": t.order_id,
        "orderListId": -1,
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
