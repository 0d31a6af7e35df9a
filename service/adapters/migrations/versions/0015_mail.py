"""case numbers and mail

Every ticket gets a case number, ENV-<n>: on PostgreSQL from the sequence ticket_numbers (the
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


def upgrade() -> None:
    op.add_column("tickets", sa.Column("number", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _numbers_postgresql()
    else:
        _numbers_sqlite()


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
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_tickets_number", "tickets", type_="unique")
        op.drop_column("tickets", "number")  # drops the sequence it owns
    else:
        op.execute("DROP TRIGGER tickets_number")
        op.execute("DROP TABLE ticket_number_counter")
        op.drop_index("uq_tickets_number", table_name="tickets")
        op.drop_column("tickets", "number")
