"""orders.source holds 64 characters

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Sixteen characters were too few for ``strategy:<name>``, so the live strategy runner could
not say which strategy placed an order. SQLite cannot alter a column in place; batch mode
copies the table, which keeps its constraints and indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=16),
            type_=sa.String(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    # Longer sources are cut rather than refused: PostgreSQL would reject the narrowing.
    op.execute("UPDATE orders SET source = substr(source, 1, 16) WHERE length(source) > 16")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=64),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
