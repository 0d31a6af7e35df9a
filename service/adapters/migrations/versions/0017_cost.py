"""contract entitlements and cost: allowances, the usage ledger, charges on tickets

``allowances`` holds each account's included upscale-days per contract year. ``usage`` is the
ledger: a row per component an upscale raised, opened when provisioning completes (unique per
ticket and component: one apply, one row) and closed when the revert completes or a later
request changes the component; read per account and month (the two account indexes) and, for
closing, by its open rows per environment and component (a partial index). ``tickets.charges``
keeps an upscale's quote and the acceptance of its charge.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("charges", sa.JSON(), nullable=True))
    op.create_table(
        "allowances",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_allowances_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", "year", name="pk_allowances"),
    )
    op.create_table(
        "usage",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("environment_id", sa.String(36), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("component", sa.String(32), nullable=False),
        sa.Column("from_size", sa.String(16), nullable=False),
        sa.Column("to_size", sa.String(16), nullable=False),
        sa.Column("daily_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("included_days", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_usage_account_id_accounts"),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name="fk_usage_environment_id_environments"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_usage_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_usage"),
        sa.UniqueConstraint("ticket_id", "component", name="uq_usage_ticket_id_component"),
    )
    op.create_index("ix_usage_account_started", "usage", ["account_id", "started_at"])
    op.create_index("ix_usage_account_ended", "usage", ["account_id", "ended_at"],
                    postgresql_include=["started_at", "environment_id", "component", "daily_minor",
                                        "included_days", "currency"])
    op.create_index("ix_usage_open", "usage", ["environment_id", "component"],
                    postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_usage_open", table_name="usage")
    op.drop_index("ix_usage_account_ended", table_name="usage")
    op.drop_index("ix_usage_account_started", table_name="usage")
    op.drop_table("usage")
    op.drop_table("allowances")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("charges")
