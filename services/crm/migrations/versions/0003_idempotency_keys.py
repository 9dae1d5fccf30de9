"""idempotency keys (issue 11; filled by the idempotency work)

Revision ID: 0003
Revises: 0002
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    pass  # PLACEHOLDER: replaced by the work that owns this migration


def downgrade():
    pass
