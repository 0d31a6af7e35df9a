"""case numbers and mail

The mail outbox (mail_messages: a row per event, then per event and recipient) and each person's
notification preferences. Every ticket gets a case number, ENV-<n>: on PostgreSQL from the sequence ticket_numbers (the
column's default), on SQLite from a one-row counter table (a trigger numbers rows written
without one). Existing tickets are numbered in filing order (created_at, id).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_IN_FILING_ORDER = "SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM tickets"


_MAIL_OWED = "recipient_id IS NOT NULL AND sent_at IS NULL AND given_up_at IS NULL"


def upgrade() -> None:
    op.add_column("tickets", sa.Column("number", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _numbers_postgresql()
    else:
        _numbers_sqlite()
    _mail_tables()


def _mail_tables() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient_id", sa.String(36), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mail_messages"),
    )
    op.create_index("ix_mail_messages_owed", "mail_messages", ["next_attempt_at"],
                    postgresql_where=sa.text(_MAIL_OWED), sqlite_where=sa.text(_MAIL_OWED))
    op.create_index("ix_mail_messages_unaddressed", "mail_messages", ["created_at"],
                    postgresql_where=sa.text("recipient_id IS NULL"), sqlite_where=sa.text("recipient_id IS NULL"))
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("watch_account", sa.Boolean(), nullable=False),
        sa.Column("staff_awaiting_approval", sa.Boolean(), nullable=False),
        sa.Column("staff_sla_breach", sa.Boolean(), nullable=False),
        sa.Column("staff_failed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_notification_preferences_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name="pk_notification_preferences"),
    )


def _numbers_postgresql() -> None:
    op.execute(f"UPDATE tickets SET number = r.n FROM ({_IN_FILING_ORDER}) r WHERE r.id = tickets.id")
    op.execute("CREATE SEQUENCE ticket_numbers OWNED BY tickets.number")
    op.execute("SELECT setval('ticket_numbers', coalesce(max(number), 0) + 1, false) FROM tickets")
    op.execute("ALTER TABLE tickets ALTER COLUMN number SET DEFAULT nextval('ticket_numbers'), "
               "ALTER COLUMN number SET NOT NULL")
    op.create_unique_constraint("uq_tickets_number", "tickets", ["number"])


def _numbers_sqlite() -> None:
    op.execute(f"UPDATE tickets SET number = (SELECT r.n FROM ({_IN_FILING_ORDER}) r "
               "WHERE r.id = tickets.id)")
    op.create_index("uq_tickets_number", "tickets", ["number"], unique=True)
    op.execute("CREATE TABLE ticket_number_counter (id INTEGER PRIMARY KEY CHECK (id = 1), "
               "last INTEGER NOT NULL)")
    op.execute("INSERT INTO ticket_number_counter (id, last) SELECT 1, coalesce(max(number), 0) FROM tickets")
    op.execute("""CREATE TRIGGER tickets_number AFTER INSERT ON tickets WHEN NEW.number IS NULL
        BEGIN
            UPDATE ticket_number_counter SET last = last + 1;
            UPDATE tickets SET number = (SELECT last FROM ticket_number_counter) WHERE rowid = NEW.rowid;
        END""")


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_index("ix_mail_messages_unaddressed", table_name="mail_messages")
    op.drop_index("ix_mail_messages_owed", table_name="mail_messages")
    op.drop_table("mail_messages")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_tickets_number", "tickets", type_="unique")
        op.drop_column("tickets", "number")  # drops the sequence it owns
    else:
        op.execute("DROP TRIGGER tickets_number")
        op.execute("DROP TABLE ticket_number_counter")
        op.drop_index("uq_tickets_number", table_name="tickets")
        op.drop_column("tickets", "number")
