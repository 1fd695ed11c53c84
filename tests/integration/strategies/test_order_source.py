"""``orders.source`` holds ``strategy:<name>`` on both backends (migration 0004), and the
migration goes down and up again without losing an order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from tests.conftest import ADMIN
from tests.integration.strategies.test_strategy_runner import SYMBOL, core
from tradedeck.domain.errors import InvalidInput
from tradedeck.domain.orders import OrderStatus, OrderType, Side
from tradedeck.storage import models
from tradedeck.storage.db import alembic_config, upgrade
from tradedeck.trading.requests import OrderRequest

LONGEST = "strategy:" + "x" * 55  # 64 characters


def schema_drift(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), models.metadata))


def buy(source: str) -> OrderRequest:
    return OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, Decimal("0.1"), source=source)


async def test_a_64_character_source_is_stored_and_survives_the_migrations(
    tmp_path: Path, database_url: str
) -> None:
    services = await core(tmp_path, database_url)
    try:
        order, _ = await services.orders.place(ADMIN, buy(LONGEST))
        assert order.status is OrderStatus.FILLED
        stored = await services.repository.get_order(order.id)
        assert stored is not None and stored.source == LONGEST

        with pytest.raises(InvalidInput, match="1 to 64 characters"):
            await services.orders.place(ADMIN, buy(LONGEST + "y"))
        assert len(await services.repository.list_orders(symbol=SYMBOL)) == 1  # nothing new

        engine = services.repository.engine

        def width(connection: Connection) -> int:
            column = next(
                c for c in inspect(connection).get_columns("orders") if c["name"] == "source"
            )
            return int(column["type"].length)

        def down(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0003")

        async with engine.begin() as conn:
            assert await conn.run_sync(width) == 64
            await conn.run_sync(down)
            assert await conn.run_sync(width) == 16
            cut = (await conn.execute(select(models.orders.c.source))).scalar_one()
        assert cut == LONGEST[:16]  # cut to fit rather than refused
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(width) == 64
            # Rebuilt exactly as the models say: indexes, keys and constraints included.
            assert await conn.run_sync(schema_drift) == []
            if conn.dialect.name == "sqlite":  # and foreign keys still enforced, all intact
                assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
                assert (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all() == []
        again = await services.repository.get_order(order.id)
        assert again is not None and again.status is OrderStatus.FILLED
    finally:
        await services.stop()
