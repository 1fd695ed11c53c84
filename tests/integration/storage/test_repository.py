"""The storage layer on both SQLite and PostgreSQL: the same code, the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tradedeck.domain.balances import Balance
from tradedeck.domain.candles import Candle
from tradedeck.domain.errors import Conflict
from tradedeck.domain.orders import Fill, Order, OrderStatus, OrderType, Side
from tradedeck.domain.positions import Position
from tradedeck.domain.roles import Role
from tradedeck.exchanges.base import ExchangeUpdate
from tradedeck.storage.db import make_engine, upgrade
from tradedeck.storage.models import metadata
from tradedeck.storage.repository import KillSwitchState, Repository

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def repo(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    await upgrade(engine)
    yield Repository(engine)
    await engine.dispose()


async def test_migrations_match_the_models(repo: Repository) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with repo.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {"orders", "fills", "balances", "positions", "users", "kill_switch"} <= tables
    await upgrade(repo.engine)  # a second upgrade is a no-op


async def test_users_and_tokens(repo: Repository) -> None:
    user = await repo.create_user("alice", Role.TRADER, 42, "h" * 64, "td_abcd")
    found = await repo.user_by_token_hash("h" * 64)
    assert found is not None and (found.id, found.name, found.role) == (
        user.id,
        "alice",
        Role.TRADER,
    )
    by_telegram = await repo.user_by_telegram_id(42)
    assert by_telegram is not None and by_telegram.id == user.id
    with pytest.raises(Conflict):
        await repo.create_user("alice", Role.VIEWER, None, "x" * 64, "td_x")
    assert [u.name for u in await repo.list_users()] == ["alice"]
    assert await repo.revoke_user("alice")
    assert await repo.user_by_token_hash("h" * 64) is None
    assert not await repo.revoke_user("nobody")


async def test_trading_update_round_trip_keeps_exact_decimals(repo: Repository) -> None:
    await repo.seed_balances({"BTC": Decimal("1.123456789012345678")})
    assert not await repo.seed_balances({"BTC": Decimal(5)})  # seeding happens once
    order = Order(
        "o1",
        "ETH/BTC",
        Side.BUY,
        OrderType.LIMIT,
        Decimal("0.3"),
        NOW,
        NOW,
        price=Decimal("0.051234"),
        status=OrderStatus.OPEN,
        reserved=Decimal("0.0153855702"),
        client_order_id="c1",
    )
    fill = Fill(
        "f1",
        "o1",
        "ETH/BTC",
        Side.BUY,
        Decimal("0.1"),
        Decimal("0.051234"),
        Decimal("0.0000051234"),
        "BTC",
        NOW,
    )
    update = ExchangeUpdate(
        orders=[order],
        fills=[fill],
        balances=[Balance("BTC", Decimal("0.9"), Decimal("0.0153855702"))],
    )
    position = Position("ETH/BTC", Decimal("0.1"), Decimal("0.051285234"), Decimal(0), NOW, NOW)
    await repo.save_update(update, [position])

    assert await repo.load_open_orders() == [order]
    assert await repo.get_order_by_client_id(None, "c1") == order
    assert await repo.list_fills() == [fill]
    assert await repo.load_positions() == [position]
    assert {b.asset: b for b in await repo.load_balances()}["BTC"].reserved == Decimal(
        "0.0153855702"
    )
    history = await repo.order_history("o1")
    assert [h["status"] for h in history] == ["open"]


async def test_kill_switch_blocks_writes_inside_the_transaction(repo: Repository) -> None:
    await repo.set_kill_switch(KillSwitchState(True, "watchdog: heartbeat lost", "watchdog", NOW))
    order = Order("o2", "ETH/BTC", Side.BUY, OrderType.MARKET, Decimal(1), NOW, NOW)
    with pytest.raises(Exception) as info:
        await repo.save_update(ExchangeUpdate(orders=[order]), [], require_kill_switch_off=True)
    assert getattr(info.value, "code", None) == "kill_switch_active"
    assert await repo.get_order("o2") is None
    state = await repo.get_kill_switch()
    assert state.active and state.reason == "watchdog: heartbeat lost" and state.changed_at == NOW


async def test_live_leg_and_exchange_fill_ids_fit(repo: Repository) -> None:
    """A protective leg's id is its entry's plus "-sl", and an exchange execution is stored
    as "<exchange order id>:<trade id>": both longer than the 32 characters ids once had."""
    entry_id = "a" * 32
    leg = Order(
        f"{entry_id}-sl",
        "ETH/BTC",
        Side.SELL,
        OrderType.STOP_LIMIT,
        Decimal(1),
        NOW,
        NOW,
        price=Decimal("0.04"),
        stop_price=Decimal("0.041"),
        status=OrderStatus.OPEN,
        parent_id=entry_id,
        oco_group=entry_id,
    )
    fill_id = "123456789012345678:987654321098765432"
    fill = Fill(fill_id, leg.id, "ETH/BTC", Side.SELL, Decimal("0.5"), Decimal("0.04"),
                Decimal(0), "BTC", NOW)  # fmt: skip
    await repo.save_update(ExchangeUpdate(orders=[leg], fills=[fill]), [])
    assert await repo.get_order(leg.id) == leg
    assert await repo.fill_ids([leg.id]) == {fill_id}
    assert await repo.fill_ids([]) == set()


async def test_check_kill_switch_off_refuses_once_halted(repo: Repository) -> None:
    await repo.check_kill_switch_off()
    await repo.set_kill_switch(KillSwitchState(True, "watchdog: heartbeat lost", "watchdog", NOW))
    with pytest.raises(Exception, match="watchdog: heartbeat lost") as info:
        await repo.check_kill_switch_off()
    assert getattr(info.value, "code", None) == "kill_switch_active"


async def test_candles_settings_and_day_equity(repo: Repository) -> None:
    candles = [
        Candle(
            "ETH/BTC",
            "5m",
            NOW + timedelta(minutes=5 * i),
            Decimal("0.05"),
            Decimal("0.06"),
            Decimal("0.04"),
            Decimal("0.055"),
            Decimal(10),
        )
        for i in range(3)
    ]
    await repo.upsert_candles(candles)
    await repo.upsert_candles(candles[-1:])  # replays overwrite, never duplicate
    assert await repo.list_candles("ETH/BTC", "5m") == candles
    await repo.prune_candles("ETH/BTC", "5m", NOW + timedelta(minutes=5))
    assert len(await repo.list_candles("ETH/BTC", "5m")) == 2

    await repo.set_setting("k", "v1", "me")
    await repo.set_setting("k", "v2", "me")
    assert await repo.get_setting("k") == "v2"

    day = NOW.date()
    assert await repo.record_day_equity(day, "BTC", Decimal(2)) == Decimal(2)
    assert await repo.record_day_equity(day, "BTC", Decimal(1)) == Decimal(2)
    assert await repo.day_equity(day) == (Decimal(2), Decimal(1))


async def test_signal_nonce_is_single_use(repo: Repository) -> None:
    assert await repo.insert_signal("s1", "nonce-123", "{}")
    assert not await repo.insert_signal("s2", "nonce-123", "{}")
    await repo.update_signal("s1", "executed", order_id="o1")
    record = await repo.get_signal("s1")
    assert record is not None and record.status == "executed" and record.order_id == "o1"
    await repo.insert_signal("s3", "nonce-456", "{}")
    assert await repo.expire_queued_signals("restart") == 1
