"""the change calendar: windows, scheduled changes, emergencies, load tests, calendar keys

Tickets gain apply_at (when the customer wants it applied), not_before (when a scheduled ticket
is due: apply_at, a period's start, the end of a freeze or maintenance window that holds it),
the emergency flag and reason, a load test's facts, and the span the calendar shows. Scheduled
tickets of earlier releases are due at their period's start.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # ADD COLUMN, not a batch: on SQLite a batch copies the table and drops its trigger
    # (tickets_number, migration 0015).
    op.add_column("tickets", sa.Column("apply_at", _TZ, nullable=True))
    op.add_column("tickets", sa.Column("not_before", _TZ, nullable=True))
    op.add_column("tickets", sa.Column("emergency", sa.Boolean(), nullable=False,
                                server_default=sa.text("false")))
    op.add_column("tickets", sa.Column("emergency_reason", sa.Text(), nullable=True))
    op.add_column("tickets", sa.Column("load_test", sa.JSON(), nullable=True))
    op.add_column("tickets", sa.Column("calendar_start", _TZ, nullable=True))
    op.add_column("tickets", sa.Column("calendar_end", _TZ, nullable=True))
    op.execute("UPDATE tickets SET not_before = period_start WHERE status = 'scheduled'")
    op.execute("UPDATE tickets SET calendar_start = period_start, calendar_end = period_end "
               "WHERE period_start IS NOT NULL")
    _index("ix_tickets_not_before", ["status", "not_before"], "not_before IS NOT NULL")
    _index("ix_tickets_calendar", ["calendar_end"], "calendar_end IS NOT NULL")
    _index("ix_tickets_account_calendar", ["account_id", "calendar_end"], "calendar_end IS NOT NULL")
    op.create_table(
        "change_windows",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("start_at", _TZ, nullable=False),
        sa.Column("end_at", _TZ, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("rrule", sa.String(500), nullable=True),
        sa.Column("last_end", _TZ, nullable=True),
        sa.Column("scope_stage", sa.String(8), nullable=True),
        sa.Column("scope_account_id", sa.String(36), nullable=True),
        sa.Column("scope_environment_id", sa.String(36), nullable=True),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.Column("deleted_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(["scope_account_id"], ["accounts.id"],
                                name="fk_change_windows_scope_account_id_accounts"),
        sa.ForeignKeyConstraint(["scope_environment_id"], ["environments.id"],
                                name="fk_change_windows_scope_environment_id_environments"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_change_windows_created_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_change_windows"),
    )
    where = sa.text("deleted_at IS NULL")
    op.create_index("ix_change_windows_active", "change_windows", ["last_end"],
                    postgresql_where=where, sqlite_where=where)
    op.create_table(
        "calendar_keys",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_calendar_keys_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name="pk_calendar_keys"),
        sa.UniqueConstraint("key_hash", name="uq_calendar_keys_key_hash"),
    )


def _index(name: str, columns: list[str], predicate: str) -> None:
    where = sa.text(predicate)
    op.create_index(name, "tickets", columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    op.drop_table("calendar_keys")
    op.drop_index("ix_change_windows_active", table_name="change_windows")
    op.drop_table("change_windows")
    for name in ("ix_tickets_account_calendar", "ix_tickets_calendar", "ix_tickets_not_before"):
        op.drop_index(name, table_name="tickets")
    with op.batch_alter_table("tickets") as batch_op:
        for column in ("calendar_end", "calendar_start", "load_test", "emergency_reason",
                       "emergency", "not_before", "apply_at"):
            batch_op.drop_column(column)
