"""index queued tickets by status and environment (the console's count per status)

The staff console counts its queue per status, also for one stage, on every page. A partial
index of the queued tickets' (status, environment_id) answers that with an index-only scan,
without reading a heap page per open ticket.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

QUEUE = "status IN ('approved', 'failed', 'pending_approval', 'provisioning', 'scheduled')"


def upgrade() -> None:
    op.create_index("ix_tickets_queue_status", "tickets", ["status", "environment_id"],
                    postgresql_where=sa.text(QUEUE), sqlite_where=sa.text(QUEUE))


def downgrade() -> None:
    op.drop_index("ix_tickets_queue_status", table_name="tickets")
