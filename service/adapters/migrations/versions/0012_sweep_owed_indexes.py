"""index only what the sweep still owes: SLA alerts not yet sent, webhook deliveries not yet done

Every sweep looks for pending tickets past their decision SLA that staff were not yet told about,
and for deliveries still to be sent. Both used to walk rows that are settled for good (pending
tickets announced long ago; deliveries made or given up). These partial indexes hold only the rows
still owed, so in the steady state (everything told, everything delivered) a sweep reads nothing.
The SLA one carries the ticket's id and environment, so the look is an index-only scan: PostgreSQL
estimates "not yet alerted" from the whole table (where it is nearly always true) and, with heap
fetches to pay for, preferred walking every old pending ticket through (status, created_at).
The deliveries' partial index replaces the (delivered_at, next_attempt_at) one, which only the
sweep used.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SLA_OWED = "status = 'pending_approval' AND sla_alerted_at IS NULL"
DELIVERY_OWED = "delivered_at IS NULL AND given_up_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_tickets_sla_owed", "tickets", ["created_at"], postgresql_include=["id", "environment_id"],
                    postgresql_where=sa.text(SLA_OWED), sqlite_where=sa.text(SLA_OWED))
    op.create_index("ix_webhook_deliveries_owed", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text(DELIVERY_OWED), sqlite_where=sa.text(DELIVERY_OWED))
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")


def downgrade() -> None:
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["delivered_at", "next_attempt_at"])
    op.drop_index("ix_webhook_deliveries_owed", table_name="webhook_deliveries")
    op.drop_index("ix_tickets_sla_owed", table_name="tickets")
