"""index temporary upscales by status and period start / end (the sweep's due work)

Every sweep looks for scheduled upscales whose period began, and for open or completed ones whose
period ended. Without these partial indexes the completed case walked every completed ticket in
creation order (≈ 1 s at 1M tickets); with them it reads only what is due.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("period_start", "period_end"):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_tickets_{column}", "tickets", ["status", column],
                        postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    op.drop_index("ix_tickets_period_end", table_name="tickets")
    op.drop_index("ix_tickets_period_start", table_name="tickets")
