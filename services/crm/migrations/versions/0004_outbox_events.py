"""the transactional outbox of events (issue 12; filled by the outbox work)

Revision ID: 0004
Revises: 0003
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    pass  # PLACEHOLDER: replaced by the work that owns this migration


def downgrade():
    pass
