"""an index for the unpaid invoices of an organization past their due date

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # The status=overdue filter's "not stored as overdue yet" part, a range per unpaid status.
    op.create_index("invoices_past_due", "invoices", ["organization_id", "status", "overdue_at"])


def downgrade():
    op.drop_index("invoices_past_due", "invoices")
