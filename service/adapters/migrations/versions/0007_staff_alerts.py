"""the staff queue: SLA alerts sent once, open work found without scanning closed tickets

A ticket records when staff were told it passed its decision SLA, so the sweep tells them once.
A partial index holds only the tickets the console's queue lists, oldest first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

QUEUE = "status IN ('approved', 'failed', 'pending_approval', 'provisioning', 'scheduled')"


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(sa.Column("sla_alerted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_tickets_queue", "tickets", ["created_at", "id"],
                    postgresql_where=sa.text(QUEUE), sqlite_where=sa.text(QUEUE))


def downgrade() -> None:
    op.drop_index("ix_tickets_queue", table_name="tickets")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_column("sla_alerted_at")
