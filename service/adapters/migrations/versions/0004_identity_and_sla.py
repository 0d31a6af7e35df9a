"""identity from an OIDC issuer and the decision clock

Accounts get the contract system's id (``external_id``); users may be known by (issuer,
subject) and carry a display name; a ticket records when staff first responded and when it
was decided.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(200), nullable=True))
        batch_op.create_unique_constraint("uq_accounts_external_id", ["external_id"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("oidc_issuer", sa.String(500), nullable=True))
        batch_op.add_column(sa.Column("oidc_subject", sa.String(255), nullable=True))
        batch_op.create_unique_constraint("uq_users_oidc_issuer_oidc_subject", ["oidc_issuer", "oidc_subject"])
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("first_response_at")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_oidc_issuer_oidc_subject", type_="unique")
        batch_op.drop_column("oidc_subject")
        batch_op.drop_column("oidc_issuer")
        batch_op.drop_column("name")
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_constraint("uq_accounts_external_id", type_="unique")
        batch_op.drop_column("external_id")
