"""The Binance REST API (spot and USDⓈ-M futures) over HTTP, for the real ccxt on loopback.

Why real HTTP. The live adapter's bugs live in the seams: how ccxt signs, which endpoints
``load_markets`` touches, how an error body becomes an exception, what happens when the
answer never comes. Only the real ``ccxt.async_support`` clients talking to a real socket
exercise those, so the emulator speaks Binance's wire format (paths, form/query params,
``{"code","msg"}`` errors, Binance's decimal strings) and nothing is mocked in between.

Why one app for both. Spot (``/api/v3``) and futures (``/fapi``) are separate accounts
with separate engines, but one key set, one clock and one set of faults, so a test (or a
process started with ``python -m tradedeck.exchanges.emulator``) gets a whole exchange on
one port. The test drives it: prices, fills, cancels "from the exchange UI", revoked keys
and faults, from Python or over the unsigned ``/_control`` endpoints (``control.py``).

The same port serves the user-data streams ccxt.pro reads (``ws_spot``, ``ws_futures``):
every change the engines make is pushed to the connected clients as Binance pushes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from tradedeck.exchanges.emulator.auth import check_api_key, check_signed
from tradedeck.exchanges.emulator.control import ControlApi, snapshot
from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError, unknown_order
from tradedeck.exchanges.emulator.faults import Faults
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine
from tradedeck.exchanges.emulator.futures_models import (
    AlgoOrder,
    FuturesMarket,
    FuturesOrder,
    FuturesTrade,
)
from tradedeck.exchanges.emulator.futures_routes import FuturesApi
from tradedeck.exchanges.emulator.routing import Endpoint, Handler
from tradedeck.exchanges.emulator.spot_models import EmulatorMarket, EmulatorOrder, Kline, Trade
from tradedeck.exchanges.emulator.spot_routes import SpotApi
from tradedeck.exchanges.emulator.ws_futures import FuturesStreamApi
from tradedeck.exchanges.emulator.ws_spot import SpotWsApi
from tradedeck.exchanges.emulator.ws_stream import UserStreams


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


def default_futures_markets() -> list[FuturesMarket]:
    return [
        FuturesMarket(base="BTC", price=Decimal("30000")),
        FuturesMarket(
            base="ETH",
            price=Decimal("2000"),
            tick_size=Decimal("0.01"),
            min_notional=Decimal("20"),
            maint_margin_rate=Decimal("0.005"),
            max_leverage=100,
        ),
    ]


@dataclass
class BinanceEmulator:
    """One emulated Binance account (spot and futures); ``app`` is the ASGI application."""

    markets: list[EmulatorMarket] = field(default_factory=default_markets)
    api_keys: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    futures_markets: list[FuturesMarket] = field(default_factory=default_futures_markets)

    def __post_init__(self) -> None:
        self.engine = SpotEngine(self.markets, self.clock)
        self.futures = FuturesEngine(self.futures_markets, self.clock)
        self.faults = Faults()
        self.streams = UserStreams(self.clock)
        self.streams.observe(self.engine, self.futures)
        self.app = Starlette(routes=self._routes())

    # -- keys and faults -------------------------------------------------------------------

    def add_key(self, api_key: str, secret: str) -> None:
        self.api_keys[api_key] = secret

    def revoke_key(self, api_key: str | None = None) -> None:
        """Signed calls with this key (every key, if None) now get -2015 with HTTP 401, and
        its user-data streams close."""
        if api_key is None:
            self.api_keys.clear()
        else:
            self.api_keys.pop(api_key, None)
        self.streams.revoke(api_key)

    def rate_limit_next(self, requests: int, retry_after: int = 1) -> None:
        self.faults.rate_limited = requests
        self.faults.retry_after = retry_after

    def hang_next_order(self, seconds: float = 30.0) -> None:
        """Accept the next order, then hold its reply until the client hangs up (or ``seconds``)."""
        self.faults.hang_orders += 1
        self.faults.hang_seconds = seconds

    def drop_next(self, requests: int = 1) -> None:
        self.faults.drop = requests

    def drop_streams(self) -> int:
        """Cut every open user-data stream, as a network failure would; returns how many."""
        return self.streams.drop()

    # -- spot ------------------------------------------------------------------------------

    def deposit(self, asset: str, amount: Decimal | str) -> None:
        self.engine.deposit(asset, Decimal(amount))

    def set_price(self, symbol: str, price: Decimal | str) -> list[Trade]:
        return self.engine.set_price(symbol, Decimal(price))

    def fill_next_in_steps(self, steps: int) -> None:
        self.engine.fill_next_in_steps(steps)

    def set_klines(self, symbol: str, interval: str, klines: list[Kline]) -> None:
        self.engine.set_klines(symbol, interval, klines)

    def fill_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> list[Trade]:
        """Fill an open spot order completely at its price, as if the market traded there."""
        return self.engine.fill(self._spot_order(symbol, order_id, client_order_id))

    def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> EmulatorOrder:
        """Cancel an open spot order as the user would in the exchange's UI."""
        order = self._spot_order(symbol, order_id, client_order_id)
        return self.engine.cancel(symbol, order.order_id, None)

    def _spot_order(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> EmulatorOrder:
        order = self.engine.find(symbol, order_id, client_order_id)
        if order is None or not order.open:
            raise unknown_order()
        return order

    # -- futures ---------------------------------------------------------------------------

    def deposit_futures(self, amount: Decimal | str) -> None:
        """Credit the USDⓈ-M wallet (USDT)."""
        self.futures.deposit(Decimal(amount))

    def set_futures_price(self, symbol: str, price: Decimal | str) -> list[FuturesTrade]:
        return self.futures.set_price(symbol, Decimal(price))

    def fill_next_futures_in_steps(self, steps: int) -> None:
        self.futures.fill_next_in_steps(steps)

    def set_futures_klines(self, symbol: str, interval: str, klines: list[Kline]) -> None:
        self.futures.set_klines(symbol, interval, klines)

    def fill_futures_order(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
        algo_id: int | None = None,
    ) -> list[FuturesTrade]:
        """Fill an open futures order (or trigger and fill an algo order) at its price."""
        found = self._futures_order(symbol, order_id, client_order_id, algo_id)
        if isinstance(found, FuturesOrder):
            return self.futures.fill(found)
        return self.futures.fill_algo(found)

    def cancel_futures_order(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        client_order_id: str | None = None,
        algo_id: int | None = None,
    ) -> None:
        """Cancel an open futures or algo order as the user would in the exchange's UI."""
        found = self._futures_order(symbol, order_id, client_order_id, algo_id)
        if isinstance(found, FuturesOrder):
            self.futures.cancel(symbol, found.order_id, None)
        else:
            self.futures.algo.cancel(found.algo_id, None)

    def _futures_order(
        self, symbol: str, order_id: int | None, client_order_id: str | None, algo_id: int | None
    ) -> FuturesOrder | AlgoOrder:
        if algo_id is None:
            order = self.futures.find(symbol, order_id, client_order_id)
            if order is not None and order.open:
                return order
        if order_id is None:
            algo = self.futures.algo.find(algo_id, client_order_id if algo_id is None else None)
            if algo is not None and algo.open and algo.symbol == symbol:
                return algo
        raise unknown_order()

    # -- inspection ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Open orders, balances and positions of both accounts, in Binance's shapes."""
        return snapshot(self.engine, self.futures)

    # -- routing ---------------------------------------------------------------------------

    def _routes(self) -> list[BaseRoute]:
        def public(handler: Handler) -> Endpoint:
            return self._endpoint(handler, signed=False)

        def signed(handler: Handler) -> Endpoint:
            return self._endpoint(handler, signed=True)

        return [
            *SpotApi(self.engine, self.faults, self.clock).routes(public, signed),
            *FuturesApi(self.futures, self.faults, self.clock).routes(public, signed),
            *FuturesStreamApi(self.streams, self.api_keys).routes(public),
            *SpotWsApi(self.streams, self.api_keys, self.clock).routes(),
            *ControlApi(self).routes(),
        ]

    def _endpoint(self, handler: Handler, *, signed: bool) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            limited = self.faults.throttle(self.clock())
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
            return self.faults.dropped() or JSONResponse(result)

        return endpoint
