"""The door in front of ccxt's fetch: a live order's request leaves only once the stored
kill switch has been read as off, and not at all when it was on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tradedeck.domain.errors import RiskRefused
from tradedeck.exchanges.ccxt_live import send_gate


class FakeExchange:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def fetch(self, url: str, *args: Any, **kwargs: Any) -> str:
        self.sent.append(url)
        return "ok"


def gated() -> FakeExchange:
    exchange = FakeExchange()
    send_gate.install(exchange)
    return exchange


async def test_the_request_waits_for_the_read_and_then_leaves() -> None:
    exchange = gated()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with send_gate.held_by(gate):
        sending = asyncio.ensure_future(exchange.fetch("/api/v3/order"))
        await asyncio.sleep(0.01)
        assert exchange.sent == []  # built, signed, held
        gate.set_result(None)
        assert await sending == "ok"
    assert exchange.sent == ["/api/v3/order"]


async def test_a_switch_found_on_stops_the_request_with_its_refusal() -> None:
    exchange = gated()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gate.set_exception(RiskRefused("kill_switch_active", "trading is halted: drawdown"))
    with send_gate.held_by(gate), pytest.raises(RiskRefused, match="drawdown"):
        await exchange.fetch("/api/v3/order")
    assert exchange.sent == []


async def test_requests_outside_an_order_do_not_wait() -> None:
    exchange = gated()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with send_gate.held_by(never):
        pass
    assert await exchange.fetch("/api/v3/ticker/price") == "ok"  # the block is over


async def test_a_cancelled_request_leaves_the_shared_read_running() -> None:
    exchange = gated()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with send_gate.held_by(gate):
        first = asyncio.ensure_future(exchange.fetch("/a"))
        second = asyncio.ensure_future(exchange.fetch("/b"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    assert not gate.cancelled()
    gate.set_result(None)
    assert await second == "ok"
    assert exchange.sent == ["/b"]
