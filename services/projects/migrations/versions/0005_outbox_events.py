"""the transactional outbox of events (portal_common.outbox), written in the transaction of each change

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from portal_common.outbox import create_table_v1

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    create_table_v1(op)


def downgrade():
    op.drop_table("outbox_events")
