"""payment connections and received payment events (issue 11; filled by the webhook work)

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    pass  # PLACEHOLDER: replaced by the work that owns this migration


def downgrade():
    pass
