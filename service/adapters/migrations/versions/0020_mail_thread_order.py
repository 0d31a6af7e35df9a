"""a person's mail about one ticket in order

The claim hands out a message only when no earlier message of its thread (one ticket, one
recipient) is still owed; this partial index answers that question per message. It holds
addressed, owed messages only, so a move's own row does not touch it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_MAIL_OWED = "recipient_id IS NOT NULL AND sent_at IS NULL AND given_up_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_mail_messages_thread", "mail_messages", ["ticket_id", "recipient_id", "created_at"],
                    postgresql_where=sa.text(_MAIL_OWED), sqlite_where=sa.text(_MAIL_OWED))


def downgrade() -> None:
    op.drop_index("ix_mail_messages_thread", table_name="mail_messages")
