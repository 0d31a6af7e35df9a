"""system actors on events, and scheduled requests hold their environment

Every audit event names its actor: a user (``actor_id``) or a part of the system
(``actor_kind`` "system" with ``actor_name``: worker, sweep, policy). Events written before had
a null actor for the system; the sweep's reverts are told apart by their reason.

``scheduled`` (approved, waiting for its period to start) is open: the partial unique index of
one open request per environment and type now includes it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_OPEN = "status IN ('approved', 'pending_approval', 'provisioning')"
NEW_OPEN = "status IN ('approved', 'pending_approval', 'provisioning', 'scheduled')"
INDEX = "uq_tickets_open_per_environment"


def _recreate_open_index(where: str) -> None:
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, ["environment_id", "type"], unique=True,
                              postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    with op.batch_alter_table("ticket_events") as batch_op:
        batch_op.add_column(sa.Column("actor_kind", sa.String(8), nullable=False, server_default="user"))
        batch_op.add_column(sa.Column("actor_name", sa.String(32), nullable=True))
    op.execute("UPDATE ticket_events SET actor_kind = 'system', actor_name = CASE "
               "WHEN reason = 'the temporary upscale period ended' THEN 'sweep' ELSE 'worker' END "
               "WHERE actor_id IS NULL")
    _recreate_open_index(NEW_OPEN)


def downgrade() -> None:
    op.execute("UPDATE tickets SET status = 'pending_approval' WHERE status = 'scheduled'")
    op.execute("UPDATE tickets SET status = 'cancelled' WHERE status = 'expired'")
    _recreate_open_index(OLD_OPEN)
    with op.batch_alter_table("ticket_events") as batch_op:
        batch_op.drop_column("actor_name")
        batch_op.drop_column("actor_kind")
