"""idempotency keys: the Idempotency-Key header's stored claims and answers (portal_common.idempotency)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from portal_common.idempotency import create_table_v1

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    create_table_v1(op)


def downgrade():
    op.drop_table("idempotency_keys")
