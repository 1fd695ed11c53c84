"""trailing stops

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradedeck.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = tradedeck.storage.types.UTCDateTime
    money = tradedeck.storage.types.Money
    op.create_table(
        "trailing_stops",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("trail_percent", money(length=64), nullable=False),
        sa.Column("amount", money(length=64), nullable=True),
        sa.Column("peak", money(length=64), nullable=False),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("triggered_at", when(timezone=True), nullable=True),
        sa.Column("trigger_price", money(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_trailing_stops_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trailing_stops")),
    )
    with op.batch_alter_table("trailing_stops", schema=None) as batch_op:
        batch_op.create_index("ix_trailing_stops_user_id", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_trailing_stops_triggered_at", ["triggered_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trailing_stops", schema=None) as batch_op:
        batch_op.drop_index("ix_trailing_stops_triggered_at")
        batch_op.drop_index("ix_trailing_stops_user_id")
    op.drop_table("trailing_stops")
