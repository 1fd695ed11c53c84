"""The in-memory repository keeps the semantics the trading classes rely on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tradedeck.backtest.memory import MemoryRepository
from tradedeck.domain.orders import Order, OrderType, Side
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.storage.repository import KillSwitchActiveInStore, KillSwitchState

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def order(order_id: str, client_id: str | None = None) -> Order:
    return Order(
        id=order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal(1),
        created_at=NOW,
        updated_at=NOW,
        client_order_id=client_id,
        user_id=7,
    )


async def test_orders_are_found_by_id_and_client_id() -> None:
    repo = MemoryRepository()
    await repo.save_update(ExchangeUpdate(orders=[order("a", "mine")]), [])
    assert (await repo.get_order("a")) is not None
    found = await repo.get_order_by_client_id(7, "mine")
    assert found is not None and found.id == "a"
    assert await repo.get_order_by_client_id(8, "mine") is None


async def test_a_stored_kill_switch_blocks_order_writes() -> None:
    repo = MemoryRepository()
    await repo.set_kill_switch(KillSwitchState(active=True, reason="drill"))
    with pytest.raises(KillSwitchActiveInStore, match="drill"):
        await repo.save_update(
            ExchangeUpdate(orders=[order("a")]), [], require_kill_switch_off=True
        )
    assert await repo.get_order("a") is None
    await repo.save_update(ExchangeUpdate(orders=[order("b")]), [])  # a cancel still writes
    assert await repo.get_order("b") is not None


async def test_the_days_start_equity_is_the_first_one_seen() -> None:
    repo = MemoryRepository()
    day = date(2024, 1, 1)
    assert await repo.record_day_equity(day, "USDT", Decimal(100)) == 100
    assert await repo.record_day_equity(day, "USDT", Decimal(90)) == 100
    assert repo.day_equity[day] == (Decimal(100), Decimal(90))
