"""The never-double rule of ``CcxtClient.place``, against a scripted ccxt exchange.

The emulator shows the happy paths of a lost reply (the order is found); these are the
others: not found (sent again with the same client id), never confirmed, and a lookup that
fails too (the state is unknown: nothing more is sent).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tradedeck.domain.errors import OrderRejected, Unavailable
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live import CcxtClient, LiveSettings, PlaceOrder, RetryPolicy

MARKET = {
    "id": "BTCUSDT",
    "symbol": "BTC/USDT",
    "base": "BTC",
    "quote": "USDT",
    "spot": True,
    "active": True,
    "precision": {"amount": 0.00001, "price": 0.01},
    "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}},
}

Step = Callable[[], Any]


def accepted(client_order_id: str) -> dict[str, Any]:
    return {
        "id": "1",
        "clientOrderId": client_order_id,
        "symbol": "BTC/USDT",
        "type": "limit",
        "side": "buy",
        "status": "open",
        "price": 29000.0,
        "amount": 0.01,
        "filled": 0.0,
        "timestamp": 1_700_000_000_000,
        "info": {"type": "LIMIT"},
    }


def fail(error: Exception) -> Step:
    def step() -> Any:
        raise error

    return step


class ScriptedExchange:
    """Answers each create_order / fetch_order call with the next scripted step."""

    precisionMode = 4

    def __init__(self, creates: list[Step], lookups: list[Step]) -> None:
        self.has: dict[str, bool] = {}
        self.creates = creates
        self.lookups = lookups
        self.sent: list[dict[str, Any]] = []

    async def load_markets(self, reload: bool = False) -> dict[str, Any]:
        return {"BTC/USDT": MARKET}

    async def create_order(self, *args: Any) -> Any:
        self.sent.append(args[5])
        return self.creates.pop(0)()

    async def fetch_order(self, order_id: Any, symbol: str, params: dict[str, Any]) -> Any:
        return self.lookups.pop(0)()

    async def close(self) -> None:
        return None


async def no_wait(seconds: float) -> None:
    return None


async def client_for(exchange: ScriptedExchange) -> CcxtClient:
    client = CcxtClient(
        LiveSettings(exchange="binance"),
        exchange=exchange,
        retry=RetryPolicy(attempts=2, place_attempts=3),
        sleep=no_wait,
    )
    await client.load_markets()
    return client


ORDER = PlaceOrder(
    "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), "td-once", Decimal("29000")
)
TIMEOUT = ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order")
NOT_FOUND = ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}')


async def test_not_found_after_a_timeout_is_sent_again_with_the_same_id() -> None:
    exchange = ScriptedExchange(
        creates=[fail(TIMEOUT), lambda: accepted("td-once")], lookups=[fail(NOT_FOUND)]
    )
    client = await client_for(exchange)
    placed = await client.place(ORDER)
    assert placed.status is OrderStatus.OPEN
    assert [p["clientOrderId"] for p in exchange.sent] == ["td-once", "td-once"]


async def test_found_after_a_timeout_is_not_sent_again() -> None:
    exchange = ScriptedExchange(creates=[fail(TIMEOUT)], lookups=[lambda: accepted("td-once")])
    client = await client_for(exchange)
    placed = await client.place(ORDER)
    assert placed.client_order_id == "td-once"
    assert len(exchange.sent) == 1


async def test_a_failing_lookup_leaves_the_state_unknown_and_sends_nothing_more() -> None:
    exchange = ScriptedExchange(creates=[fail(TIMEOUT)], lookups=[fail(TIMEOUT), fail(TIMEOUT)])
    client = await client_for(exchange)
    with pytest.raises(Unavailable) as unknown:
        await client.place(ORDER)
    assert unknown.value.code == "order_state_unknown"
    assert unknown.value.detail == (
        "binance lost the reply to order td-once on BTC/USDT and cannot be asked about it "
        "now; its state is unknown and reconciliation will settle it"
    )
    assert len(exchange.sent) == 1


async def test_never_confirmed_after_every_attempt_is_unknown() -> None:
    exchange = ScriptedExchange(creates=[fail(TIMEOUT)] * 3, lookups=[fail(NOT_FOUND)] * 3)
    client = await client_for(exchange)
    with pytest.raises(Unavailable) as unknown:
        await client.place(ORDER)
    assert unknown.value.code == "order_state_unknown"
    assert unknown.value.detail == (
        "binance did not confirm order td-once on BTC/USDT after 3 attempts; its state is "
        "unknown and reconciliation will settle it"
    )
    assert len(exchange.sent) == 3
    assert unknown.value.__cause__ is None and unknown.value.__context__ is None


async def test_a_duplicate_refusal_returns_the_order_already_there() -> None:
    duplicate = ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}')
    exchange = ScriptedExchange(
        creates=[fail(TIMEOUT), fail(duplicate)],
        lookups=[fail(NOT_FOUND), lambda: accepted("td-once")],
    )
    client = await client_for(exchange)
    placed = await client.place(ORDER)
    assert placed.client_order_id == "td-once"
    assert len(exchange.sent) == 2


async def test_a_rejection_is_not_retried() -> None:
    funds = ccxt.InsufficientFunds(
        'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'
    )
    exchange = ScriptedExchange(creates=[fail(funds)], lookups=[])
    client = await client_for(exchange)
    with pytest.raises(OrderRejected, match="insufficient balance"):
        await client.place(ORDER)
    assert len(exchange.sent) == 1
