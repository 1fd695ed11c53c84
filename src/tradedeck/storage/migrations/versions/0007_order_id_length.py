"""order and fill ids hold 64 characters

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Live trading keeps an entry's protective legs on the exchange with the entry's id plus
``-sl`` / ``-tp`` (35 characters, where ids had 32), and stores the exchange's own
executions as ``<exchange order id>:<trade id>``, which exceeds 32 characters on exchanges
with long ids. Every column holding an order or fill id is widened to 64.

PostgreSQL widens in place. SQLite cannot alter a column, so each table is rebuilt from
its own reflected definition (constraints and indexes included) with the wider types, the
way 0004 rebuilt ``orders``: rows copied aside, table dropped and recreated, rows copied
back, all inside one savepoint with foreign key checks deferred to its end.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WIDENED: dict[str, tuple[str, ...]] = {
    "orders": ("id", "parent_id", "oco_group"),
    "order_events": ("order_id",),
    "fills": ("id", "order_id"),
    "signals": ("order_id",),
}


def upgrade() -> None:
    _resize(32, 64)


def downgrade() -> None:
    _resize(64, 32)


def _resize(old: int, new: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, columns in _WIDENED.items():
            for column in columns:
                op.alter_column(
                    table,
                    column,
                    existing_type=sa.String(length=old),
                    type_=sa.String(length=new),
                )
        return
    op.execute("SAVEPOINT ids_0007")
    op.execute("PRAGMA defer_foreign_keys = ON")
    reflected = sa.MetaData()
    reflected.reflect(bind, only=[*_WIDENED, "users"])
    for table, columns in _WIDENED.items():
        _rebuild(bind, reflected.tables[table], columns, new)
    op.execute("RELEASE ids_0007")


def _rebuild(bind: sa.Connection, table: sa.Table, columns: tuple[str, ...], length: int) -> None:
    """Recreate ``table`` (reflected: its constraints and indexes come along) with
    ``columns`` as VARCHAR(``length``), keeping every row."""
    names = [c.name for c in table.columns]
    copy = sa.Table(
        f"_{table.name}_0007_copy",
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in table.columns),
    )
    copy.create(bind)
    bind.execute(sa.insert(copy).from_select(names, sa.select(*table.columns)))
    table.drop(bind)
    for column in columns:
        table.c[column].type = sa.String(length=length)
    table.create(bind)
    bind.execute(sa.insert(table).from_select(names, sa.select(*copy.columns)))
    copy.drop(bind)
