"""index the outbox's events that no worker has addressed yet

Every sweep addresses new events to the receivers; a partial index of the unaddressed ones
keeps that a short index scan however many deliveries the outbox keeps.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNADDRESSED = "url IN ('', 'staff')"


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_unaddressed", "webhook_deliveries", ["created_at"],
                    postgresql_where=sa.text(UNADDRESSED), sqlite_where=sa.text(UNADDRESSED))


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_unaddressed", table_name="webhook_deliveries")
