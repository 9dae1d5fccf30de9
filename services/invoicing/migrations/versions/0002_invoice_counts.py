"""invoice counts per organization, stored status and type, for list totals

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invoice_counts",
        sa.Column("organization_id", sa.String(40), primary_key=True),
        sa.Column("status", sa.String(30), primary_key=True),
        sa.Column("type", sa.String(20), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO invoice_counts (organization_id, status, type, count) "
        "SELECT organization_id, status, type, COUNT(*) FROM invoices GROUP BY organization_id, status, type"
    )


def downgrade():
    op.drop_table("invoice_counts")
