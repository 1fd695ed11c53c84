"""price alerts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradedeck.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = tradedeck.storage.types.UTCDateTime
    money = tradedeck.storage.types.Money
    op.create_table(
        "price_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("op", sa.String(length=2), nullable=False),
        sa.Column("price", money(length=64), nullable=False),
        sa.Column("created_at", when(timezone=True), nullable=False),
        sa.Column("triggered_at", when(timezone=True), nullable=True),
        sa.Column("triggered_price", money(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_price_alerts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_alerts")),
    )
    with op.batch_alter_table("price_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_price_alerts_user_id", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_price_alerts_triggered_at", ["triggered_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("price_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_price_alerts_triggered_at")
        batch_op.drop_index("ix_price_alerts_user_id")
    op.drop_table("price_alerts")
