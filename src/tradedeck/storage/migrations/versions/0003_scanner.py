"""market scanner

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradedeck.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", tradedeck.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", tradedeck.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("timeframes", sa.String(length=200), nullable=False),
        sa.Column("markets", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
    )
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.create_index("ix_scans_kind_id", ["kind", "id"], unique=False)
        batch_op.create_index("ix_scans_started_at", ["started_at"], unique=False)

    op.create_table(
        "scan_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("signal", sa.String(length=8), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=True),
        sa.Column("indicators", sa.Text(), nullable=True),
        sa.Column("last_close", sa.Float(), nullable=True),
        sa.Column("candle_time", tradedeck.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
            name=op.f("fk_scan_results_scan_id_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_results")),
    )
    with op.batch_alter_table("scan_results", schema=None) as batch_op:
        batch_op.create_index("ix_scan_results_scan_id", ["scan_id"], unique=False)
        batch_op.create_index(
            "ix_scan_results_symbol_timeframe", ["symbol", "timeframe", "scan_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("scan_results", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_results_symbol_timeframe")
        batch_op.drop_index("ix_scan_results_scan_id")
    op.drop_table("scan_results")
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_started_at")
        batch_op.drop_index("ix_scans_kind_id")
    op.drop_table("scans")
