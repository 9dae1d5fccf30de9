"""the transactional outbox of events (issue 12; filled by the outbox work)

Revision ID: 0005
Revises: 0004
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    pass  # PLACEHOLDER: replaced by the work that owns this migration


def downgrade():
    pass
