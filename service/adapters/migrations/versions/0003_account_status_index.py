"""index tickets by account and status (the per-account cap on open tickets)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_account_status", "tickets", ["account_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_tickets_account_status", table_name="tickets")
