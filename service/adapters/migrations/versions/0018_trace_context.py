"""the trace context of outbox rows

With tracing on, a webhook event, a mail event and a ticket handed to the workers carry the W3C
traceparent of the request whose move wrote them, so the worker's webhook delivery, mail and
provisioning call join that request's trace, even when a sweep republishes the work later. NULL when tracing is
off. Nullable, no default, no index: adding the columns rewrites nothing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLES = ("tickets", "webhook_deliveries", "mail_messages")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("trace_context", sa.String(55), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("trace_context")
