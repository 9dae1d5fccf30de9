"""idempotency keys: the Idempotency-Key header's stored claims and answers (portal_common.idempotency)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from portal_common.idempotency import create_table_v1

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    create_table_v1(op)


def downgrade():
    op.drop_table("idempotency_keys")
