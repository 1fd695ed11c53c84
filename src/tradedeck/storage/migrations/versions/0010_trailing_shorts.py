"""trailing stops on perpetual shorts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every stop stored so far protects a long.
    with op.batch_alter_table("trailing_stops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("guards", sa.String(length=8), server_default="long", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("trailing_stops", schema=None) as batch_op:
        batch_op.drop_column("guards")
