"""index environments by stage

The console's queue and its count per status, filtered by stage, take the environments of that
stage as a semi-join; an index of (stage, id) gives their ids from the index alone instead of
reading every environment.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_environments_stage", "environments", ["stage", "id"])


def downgrade() -> None:
    op.drop_index("ix_environments_stage", table_name="environments")
