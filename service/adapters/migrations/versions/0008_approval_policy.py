"""approval policy: approvals required per ticket, and who approved

A ticket records how many staff approvals the approval policy asked of it at filing and by
which rule, and every ticket a prod change cites in ``verified_on`` (one id or a list);
``ticket_approvals`` holds each staff member's approval (one per person). ``drafts`` holds
requests a partner prepared for its customer, and a ticket filed from one names its drafter.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(sa.Column("approvals_required", sa.Integer(), nullable=False,
                                      server_default="1"))
        batch_op.add_column(sa.Column("approval_rule", sa.String(100), nullable=True))
        batch_op.add_column(sa.Column("verified_on_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("drafter_id", sa.String(36), nullable=True))
        batch_op.create_foreign_key("fk_tickets_drafter_id_users", "users", ["drafter_id"], ["id"])
    op.create_table(
        "ticket_approvals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_approvals_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_ticket_approvals_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_approvals"),
        sa.UniqueConstraint("ticket_id", "user_id", name="uq_ticket_approvals_ticket_id_user_id"),
    )
    op.create_index("ix_ticket_approvals_ticket_id", "ticket_approvals", ["ticket_id"])
    _create_drafts()


def _create_drafts() -> None:
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("environment_id", sa.String(36), nullable=False),
        sa.Column("drafter_id", sa.String(36), nullable=False),
        sa.Column("drafter_account_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.String(36), nullable=True),
        sa.Column("submitted_by", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_drafts_account_id_accounts"),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"],
                                name="fk_drafts_environment_id_environments"),
        sa.ForeignKeyConstraint(["drafter_id"], ["users.id"], name="fk_drafts_drafter_id_users"),
        sa.ForeignKeyConstraint(["drafter_account_id"], ["accounts.id"],
                                name="fk_drafts_drafter_account_id_accounts"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_drafts_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name="fk_drafts_submitted_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_drafts"),
    )
    op.create_index("ix_drafts_account_created", "drafts", ["account_id", "created_at", "id"])
    op.create_index("ix_drafts_drafter_account_created", "drafts",
                    ["drafter_account_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_drafts_drafter_account_created", table_name="drafts")
    op.drop_index("ix_drafts_account_created", table_name="drafts")
    op.drop_table("drafts")
    op.drop_index("ix_ticket_approvals_ticket_id", table_name="ticket_approvals")
    op.drop_table("ticket_approvals")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_constraint("fk_tickets_drafter_id_users", type_="foreignkey")
        batch_op.drop_column("drafter_id")
        batch_op.drop_column("verified_on_ids")
        batch_op.drop_column("approval_rule")
        batch_op.drop_column("approvals_required")
