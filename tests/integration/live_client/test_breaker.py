"""A 429 storm: reads retry then answer from cache, the breaker opens and refuses writes,
and once the storm is over it lets one trial through and closes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.live_client.conftest import ManualClock
from tradedeck.domain.errors import Unavailable
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.exchanges.ccxt_live import CcxtClient, PlaceOrder
from tradedeck.exchanges.emulator import BinanceEmulator
from tradedeck.ops.circuit import CircuitState

STORM = 1000


def resting_buy(client_order_id: str) -> PlaceOrder:
    return PlaceOrder(
        "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), client_order_id, Decimal("25000")
    )


def storm_requests(emu: BinanceEmulator) -> int:
    """Requests the emulator has answered with 429/418 since the storm began."""
    return STORM - emu.faults.rate_limited


async def test_rate_limit_storm_opens_the_breaker_and_it_recovers(
    client: CcxtClient, emu: BinanceEmulator, clock: ManualClock
) -> None:
    fresh = await client.fetch_balances()
    emu.rate_limit_next(STORM)

    assert await client.fetch_balances() == fresh  # three attempts, then the cached answer
    assert storm_requests(emu) == 3
    assert client.breaker.state is CircuitState.CLOSED
    assert await client.fetch_balances() == fresh  # two more failures open the breaker
    assert storm_requests(emu) == 5
    assert client.breaker.state is CircuitState.OPEN

    with pytest.raises(Unavailable) as refused:
        await client.place(resting_buy("td-storm-1"))
    assert refused.value.code == "temporarily_unavailable"
    assert refused.value.detail.startswith("binance temporarily unavailable")
    with pytest.raises(Unavailable, match="binance temporarily unavailable"):
        await client.fetch_open_orders()  # never read before: nothing cached to answer with
    assert storm_requests(emu) == 5  # an open breaker sends nothing
    assert emu.engine.orders == {}

    emu.rate_limit_next(0)  # the storm is over
    clock.advance(client.retry.reset_timeout)
    assert client.breaker.state is CircuitState.HALF_OPEN
    assert await client.fetch_balances() == fresh
    assert client.breaker.state is CircuitState.CLOSED
    placed = await client.place(resting_buy("td-storm-2"))
    assert placed.status is OrderStatus.OPEN


async def test_a_rate_limited_placement_is_retried_not_looked_up(
    client: CcxtClient, emu: BinanceEmulator
) -> None:
    emu.rate_limit_next(2)  # the first two sends are refused before anything happens
    placed = await client.place(resting_buy("td-limited-1"))
    assert (placed.client_order_id, placed.status) == ("td-limited-1", OrderStatus.OPEN)
    assert sum(1 for o in emu.engine.orders.values() if o.client_order_id == "td-limited-1") == 1
    assert client.breaker.state is CircuitState.CLOSED
