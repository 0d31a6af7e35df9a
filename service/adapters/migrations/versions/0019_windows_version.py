"""the windows' version in one row

Declaring or withdrawing a window replaces it with a new random id in the same transaction. A
process that keeps the live windows (filing, the hand-off, the calendar) reads it by primary key
to tell whether they still hold, where it aggregated the whole windows table at every filing
before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""
import uuid

from alembic import op
import sqlalchemy as sa

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "change_windows_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.String(36), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "version": str(uuid.uuid4())}])


def downgrade() -> None:
    op.drop_table("change_windows_version")
