"""The unsigned ``/_control`` endpoints: a test drives an emulator running in another process.

Why over HTTP. A test that SIGKILLs the app, changes the exchange behind its back and
restarts it cannot call Python on an emulator in a separate process, so every control the
test needs is also an endpoint: move a price, credit a wallet, fill or cancel an open
order (as the market or the user in the exchange's UI would), fill the next order in
steps, answer the next requests with 429, revoke the API key, cut the user-data streams,
and read the whole state back. They are for a loopback test tool, not for clients: no
key, no signature.

Bodies are JSON. ``"kind": "future"`` aims a control at the USDⓈ-M account (default
``"spot"``). ``GET /_control/state`` answers ``snapshot``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tradedeck.exchanges.emulator import futures_wire, spot_wire
from tradedeck.exchanges.emulator.engine import SpotEngine
from tradedeck.exchanges.emulator.errors import BinanceError, fmt8
from tradedeck.exchanges.emulator.futures_engine import FuturesEngine

if TYPE_CHECKING:
    from tradedeck.exchanges.emulator.app import BinanceEmulator

_BAD_CONTROL = (KeyError, TypeError, ValueError, InvalidOperation)

Control = Callable[[dict[str, Any]], Any]


def snapshot(spot: SpotEngine, futures: FuturesEngine) -> dict[str, Any]:
    """Both accounts as a test asserts on them: open orders, balances, positions."""
    open_lists = [
        spot_wire.order_list(each, spot.legs(each), reports=False)
        for each in spot.order_lists.values()
        if any(leg.open for leg in spot.legs(each))
    ]
    return {
        "spot": {
            "balances": {
                name: {"free": fmt8(a.free), "locked": fmt8(a.locked)}
                for name, a in sorted(spot.balances.items())
            },
            "openOrders": [spot_wire.order_status(o) for o in spot.open_orders(None)],
            "openOrderLists": open_lists,
        },
        "futures": {
            "account": futures_wire.account(futures, v2=False),
            "openOrders": [
                futures_wire.order(o, futures.markets[o.symbol], queried=True)
                for o in futures.open_orders(None)
            ],
            "openAlgoOrders": [
                futures_wire.algo_order(a, futures.markets[a.symbol])
                for a in futures.algo.open(None)
            ],
            "positions": [
                futures_wire.position_risk_v2(futures, p)
                for p in futures.positions.values()
                if p.amount
            ],
        },
    }


class ControlApi:
    """The ``/_control`` route table over one emulator."""

    def __init__(self, emulator: BinanceEmulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        posts = {
            "price": self._price,
            "deposit": self._deposit,
            "steps": self._steps,
            "fill": self._fill,
            "cancel": self._cancel,
            "rate-limit": self._rate_limit,
            "revoke-key": self._revoke_key,
            "drop-streams": self._drop_streams,
        }
        return [
            *(
                Route(f"/_control/{name}", _json_endpoint(handler), methods=["POST"])
                for name, handler in posts.items()
            ),
            Route("/_control/state", self._state, methods=["GET"]),
        ]

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.emulator.state())

    def _price(self, data: dict[str, Any]) -> Any:
        symbol, price = str(data["symbol"]), Decimal(str(data["price"]))
        if _futures(data):
            return {"trades": len(self.emulator.set_futures_price(symbol, price))}
        return {"trades": len(self.emulator.set_price(symbol, price))}

    def _deposit(self, data: dict[str, Any]) -> Any:
        amount = Decimal(str(data["amount"]))
        if not amount.is_finite() or amount <= 0:
            raise ValueError("amount must be positive")
        asset = str(data["asset"])
        if _futures(data):
            if asset != "USDT":
                raise ValueError("the futures wallet holds USDT only")
            self.emulator.deposit_futures(amount)
        else:
            self.emulator.deposit(asset, amount)
        return {}

    def _steps(self, data: dict[str, Any]) -> Any:
        steps = int(data["steps"])
        if _futures(data):
            self.emulator.fill_next_futures_in_steps(steps)
        else:
            self.emulator.fill_next_in_steps(steps)
        return {}

    def _fill(self, data: dict[str, Any]) -> Any:
        symbol, order_id, client_id = _order_of(data)
        if _futures(data):
            trades: list[Any] = self.emulator.fill_futures_order(
                symbol, order_id=order_id, client_order_id=client_id, algo_id=_id(data, "algoId")
            )
        else:
            trades = self.emulator.fill_order(symbol, order_id=order_id, client_order_id=client_id)
        return {"trades": len(trades)}

    def _cancel(self, data: dict[str, Any]) -> Any:
        symbol, order_id, client_id = _order_of(data)
        if _futures(data):
            self.emulator.cancel_futures_order(
                symbol, order_id=order_id, client_order_id=client_id, algo_id=_id(data, "algoId")
            )
        else:
            self.emulator.cancel_order(symbol, order_id=order_id, client_order_id=client_id)
        return {}

    def _rate_limit(self, data: dict[str, Any]) -> Any:
        requests, retry_after = int(data["requests"]), int(data.get("retryAfter", 1))
        if requests < 0 or retry_after < 0:
            raise ValueError("requests and retryAfter must not be negative")
        self.emulator.rate_limit_next(requests, retry_after)
        return {}

    def _revoke_key(self, data: dict[str, Any]) -> Any:
        api_key = data.get("apiKey")
        self.emulator.revoke_key(None if api_key is None else str(api_key))
        return {}

    def _drop_streams(self, data: dict[str, Any]) -> Any:
        return {"streams": self.emulator.drop_streams()}


def _json_endpoint(handler: Control) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            data = await request.json() if await request.body() else {}
            if not isinstance(data, dict):
                raise TypeError("the body must be a JSON object")
            return JSONResponse(handler(data))
        except _BAD_CONTROL as error:
            return JSONResponse({"error": "invalid_input", "detail": str(error)}, status_code=400)
        except BinanceError as error:
            return JSONResponse(error.payload(), status_code=error.status)

    return endpoint


def _futures(data: dict[str, Any]) -> bool:
    kind = data.get("kind", "spot")
    if kind not in ("spot", "future"):
        raise ValueError("kind must be 'spot' or 'future'")
    return bool(kind == "future")


def _id(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    return None if value is None else int(value)


def _order_of(data: dict[str, Any]) -> tuple[str, int | None, str | None]:
    client_id = data.get("clientOrderId")
    return str(data["symbol"]), _id(data, "orderId"), None if client_id is None else str(client_id)
