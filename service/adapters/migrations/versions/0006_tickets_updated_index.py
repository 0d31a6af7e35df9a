"""index tickets by account and last change (portals polling with updated_since)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_account_updated", "tickets", ["account_id", "updated_at"])
    op.create_index("ix_tickets_updated", "tickets", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_updated", table_name="tickets")
    op.drop_index("ix_tickets_account_updated", table_name="tickets")
