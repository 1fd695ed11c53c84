"""The order path's one-trip writes on both backends (its own connection on a SQLite
file, ``storage.hop`` through the engine otherwise, one statement on PostgreSQL): all of
it or none of it, later states win, and a kill switch another process stored still stops
a write that needs it off."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from tradedeck.domain.balances import Balance
from tradedeck.domain.orders import Fill, Order, OrderStatus, OrderType, Side
from tradedeck.domain.positions import Position
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.storage import hop
from tradedeck.storage import models as m
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.direct_sqlite import DirectSqlite
from tradedeck.storage.repository import KillSwitchActiveInStore, KillSwitchState, Repository

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def repo(database_url: str) -> AsyncIterator[Repository]:
    engine = make_engine(database_url)
    await upgrade(engine)
    yield Repository(engine)
    await engine.dispose()


def _filled(order_id: str) -> ExchangeUpdate:
    order = Order(
        id=order_id,
        symbol="BTC/USDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        amount=Decimal("0.5"),
        created_at=NOW,
        updated_at=NOW,
    )
    order.transition(OrderStatus.OPEN, NOW)
    order.record_fill(Decimal("0.5"), Decimal("50000.1"), Decimal("25.00005"), NOW)
    fill = Fill(
        f"{order_id}-f",
        order_id,
        "BTC/USDT",
        Side.BUY,
        Decimal("0.5"),
        Decimal("50000.1"),
        Decimal("25.00005"),
        "USDT",
        NOW,
        None,
    )
    return ExchangeUpdate(
        orders=[order],
        fills=[fill],
        balances=[Balance("USDT", Decimal("74974.94995")), Balance("BTC", Decimal("0.5"))],
    )


def _count(table: Table) -> hop.Work[int]:
    def count(dbapi: Any) -> int:
        cursor = dbapi.cursor()
        cursor.execute(f"SELECT count(*) FROM {table.name}")
        return int(cursor.fetchone()[0])

    return count


async def test_a_stored_update_reads_back_exactly(repo: Repository) -> None:
    position = Position("BTC/USDT")
    position.apply_fill(Side.BUY, Decimal("0.5"), Decimal("50000.1"), Decimal("25.00005"), NOW)
    await repo.save_update(_filled("o1"), [position])
    stored = await repo.get_order("o1")
    assert stored is not None and stored.status is OrderStatus.FILLED
    assert stored.average_price == Decimal("50000.1")
    [fill] = await repo.list_fills()
    assert (fill.amount, fill.fee, fill.timestamp) == (Decimal("0.5"), Decimal("25.00005"), NOW)
    balances = {b.asset: b.free for b in await repo.load_balances()}
    assert balances == {"USDT": Decimal("74974.94995"), "BTC": Decimal("0.5")}
    [held] = await repo.load_positions()
    assert (held.amount, held.average_entry) == (position.amount, position.average_entry)


async def test_a_failure_inside_the_transaction_leaves_nothing(repo: Repository) -> None:
    def half_then_fail(dbapi: Any) -> None:
        dbapi.cursor().execute(
            "INSERT INTO settings_kv (key, value, updated_by, updated_at) "
            "VALUES ('a', '1', 't', '2026-03-01 12:00:00')"
        )
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="disk is full"):
        await hop.transaction(repo.engine, half_then_fail)
    assert await hop.transaction(repo.engine, _count(m.settings_kv), write=False) == 0
    assert await repo.get_setting("a") is None


async def test_a_switch_set_by_another_process_refuses_the_write_and_the_gate(
    database_url: str, repo: Repository
) -> None:
    await repo.check_kill_switch_off()  # off: passes
    other = make_engine(database_url)  # the watchdog's own connection
    try:
        await Repository(other).set_kill_switch(KillSwitchState(True, "drawdown", "watchdog", NOW))
    finally:
        await other.dispose()
    with pytest.raises(KillSwitchActiveInStore, match="drawdown"):
        await repo.check_kill_switch_off()
    with pytest.raises(KillSwitchActiveInStore):
        await repo.save_update(_filled("o2"), [], require_kill_switch_off=True)
    assert await repo.get_order("o2") is None
    assert await repo.list_fills() == []
    await repo.save_update(_filled("o3"), [])  # a write that does not ask still lands
    assert await repo.get_order("o3") is not None


async def test_a_refused_part_of_an_update_leaves_none_of_it(repo: Repository) -> None:
    update = _filled("o4")
    update.fills.append(replace(update.fills[0], id="f-orphan", order_id="no-such-order"))
    with pytest.raises(IntegrityError):
        await repo.save_update(update, [])
    assert await repo.get_order("o4") is None
    assert await repo.list_fills() == []
    assert await repo.load_balances() == []


async def test_the_later_state_of_an_order_in_one_update_is_the_stored_one(
    repo: Repository,
) -> None:
    first = _filled("o5")
    placed = first.orders[0].copy()
    placed.status, placed.filled = OrderStatus.OPEN, Decimal(0)
    update = ExchangeUpdate(orders=[placed, first.orders[0]], balances=first.balances * 2)
    await repo.save_update(update, [])
    stored = await repo.get_order("o5")
    assert stored is not None and stored.status is OrderStatus.FILLED
    assert len(await repo.load_balances()) == 2


async def test_without_aiosqlite_internals_the_same_work_runs_through_sqlalchemy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_internals(_conn: object) -> None:
        return None

    monkeypatch.setattr(hop, "_aiosqlite", no_internals)
    monkeypatch.setattr(DirectSqlite, "for_engine", lambda _engine: None)  # the engine's path
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'fallback.db'}")
    try:
        await upgrade(engine)
        repo = Repository(engine)
        await repo.save_update(_filled("o6"), [], require_kill_switch_off=True)
        await repo.check_kill_switch_off()
        stored = await repo.get_order("o6")
        assert stored is not None and stored.status is OrderStatus.FILLED
        with pytest.raises(IntegrityError):
            update = _filled("o7")
            update.fills[0] = replace(update.fills[0], order_id="no-such-order")
            await repo.save_update(update, [])
        assert await repo.get_order("o7") is None
    finally:
        await engine.dispose()


# -- the order path's own connection to a SQLite file ------------------------------------


@pytest.fixture
async def file_repo(tmp_path: Path) -> AsyncIterator[Repository]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'tradedeck.db'}")
    await upgrade(engine)
    yield Repository(engine)
    await engine.dispose()


def test_only_a_database_file_has_a_connection_of_the_order_path(tmp_path: Path) -> None:
    assert DirectSqlite.for_engine(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    assert DirectSqlite.for_engine(create_async_engine("sqlite+aiosqlite://")) is None
    assert DirectSqlite.for_engine(make_engine("postgresql+asyncpg://u@127.0.0.1/x")) is None


async def test_an_order_write_waits_for_the_write_lock_of_the_engine_then_lands(
    file_repo: Repository,
) -> None:
    async with file_repo.engine.begin() as conn:  # the app's connection holds the lock
        await conn.exec_driver_sql(
            "INSERT INTO settings_kv (key, value, updated_by, updated_at) "
            "VALUES ('a', '1', 't', '2026-03-01 12:00:00')"
        )
        saving = asyncio.ensure_future(file_repo.save_update(_filled("o8"), []))
        await asyncio.sleep(0.3)
        assert not saving.done()  # waiting its turn, not failed
    await saving
    stored = await file_repo.get_order("o8")
    assert stored is not None and stored.status is OrderStatus.FILLED
    assert await file_repo.get_setting("a") == "1"


async def test_the_connection_ends_with_the_engine_and_comes_back_when_used(
    file_repo: Repository,
) -> None:
    await file_repo.save_update(_filled("o9"), [])
    await file_repo.engine.dispose()
    for _ in range(100):  # its thread ends once the close it was handed has run
        if not any(t.name.startswith("order-sqlite") for t in threading.enumerate()):
            break
        await asyncio.sleep(0.01)
    assert not any(t.name.startswith("order-sqlite") for t in threading.enumerate())
    await file_repo.save_update(_filled("o10"), [], require_kill_switch_off=True)
    assert {o.id for o in await file_repo.list_orders()} >= {"o9", "o10"}


async def test_a_database_file_that_is_not_there_is_an_error_not_a_new_file(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "never-created.db"
    engine = make_engine(f"sqlite+aiosqlite:///{missing}")
    try:
        with pytest.raises(OperationalError, match="unable to open"):
            await Repository(engine).check_kill_switch_off()
        assert not missing.exists()
    finally:
        await engine.dispose()


async def test_an_in_memory_database_keeps_the_path_through_the_engine() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")  # one connection: one database
    try:
        await upgrade(engine)
        repo = Repository(engine)
        await repo.save_update(_filled("o11"), [], require_kill_switch_off=True)
        await repo.kill_switch_gate()
        await repo.set_kill_switch(KillSwitchState(True, "by hand", "admin", NOW))
        with pytest.raises(KillSwitchActiveInStore, match="by hand"):
            await repo.kill_switch_gate()
        stored = await repo.get_order("o11")
        assert stored is not None and stored.status is OrderStatus.FILLED
    finally:
        await engine.dispose()
