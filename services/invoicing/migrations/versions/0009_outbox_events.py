"""the transactional outbox of events (issue 12; filled by the outbox work)

Revision ID: 0009
Revises: 0008
"""

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    pass  # PLACEHOLDER: replaced by the work that owns this migration


def downgrade():
    pass
