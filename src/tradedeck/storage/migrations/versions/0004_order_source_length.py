"""orders.source holds 64 characters

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Sixteen characters were too few for ``strategy:<name>``, so the live strategy runner could
not say which strategy placed an order. PostgreSQL widens the column in place.

SQLite cannot alter a column, so the table is rebuilt, and not with batch mode: batch
copies the rows to a new table, then drops the old one, and with foreign keys on (the app
turns them on for every connection) that drop fails as soon as any fill or order event
points at an order. Instead, inside one transaction with foreign key checks deferred to
its end: copy the rows aside, drop and recreate the table, copy them back (which satisfies
the deferred checks again) and drop the copy. Nothing references orders with a cascading
action, so the drop deletes nothing else.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradedeck.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COPY = "_orders_0004_copy"


def upgrade() -> None:
    _resize(16, 64)


def downgrade() -> None:
    # Longer sources are cut rather than refused: PostgreSQL would reject the narrowing.
    op.execute("UPDATE orders SET source = substr(source, 1, 16) WHERE length(source) > 16")
    _resize(64, 16)


def _resize(old: int, new: int) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "orders",
            "source",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
        return
    names = [c.name for c in _orders_columns(old)]
    current = sa.table("orders", *(sa.column(name) for name in names))
    # A savepoint is a transaction of its own when none is open, and nests when one is:
    # either way the deferred foreign key checks run once, after the rows are back.
    op.execute("SAVEPOINT orders_0004")
    op.execute("PRAGMA defer_foreign_keys = ON")
    copy = op.create_table(_COPY, *_orders_columns(old))
    op.execute(sa.insert(copy).from_select(names, sa.select(*current.columns)))
    op.drop_table("orders")
    rebuilt = op.create_table(
        "orders",
        *_orders_columns(new),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("user_id", "client_order_id", name="uq_orders_user_client_order_id"),
    )
    op.create_index("ix_orders_created_at", "orders", ["created_at"], unique=False)
    op.create_index("ix_orders_status", "orders", ["status"], unique=False)
    op.execute(sa.insert(rebuilt).from_select(names, sa.select(*copy.columns)))
    op.drop_table(_COPY)
    op.execute("RELEASE orders_0004")


def _orders_columns(source_length: int) -> list[sa.Column[object]]:
    """The orders table as 0001 created it, but for the width of ``source``."""
    money = tradedeck.storage.types.Money
    when = tradedeck.storage.types.UTCDateTime
    return [
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("amount", money(length=64), nullable=False),
        sa.Column("price", money(length=64), nullable=True),
        sa.Column("stop_price", money(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("filled", money(length=64), nullable=False),
        sa.Column("average_price", money(length=64), nullable=True),
        sa.Column("fee", money(length=64), nullable=False),
        sa.Column("fee_currency", sa.String(length=16), nullable=True),
        sa.Column("reserved", money(length=64), nullable=False),
        sa.Column("triggered", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("oco_group", sa.String(length=32), nullable=True),
        sa.Column("stop_loss", money(length=64), nullable=True),
        sa.Column("take_profit", money(length=64), nullable=True),
        sa.Column("source", sa.String(length=source_length), nullable=False),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("updated_at", when(timezone=True), nullable=False),
    ]
