"""invoices and invoice number counters

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("issue_date", sa.BigInteger, nullable=False),
        sa.Column("overdue_at", sa.BigInteger, nullable=False),
        sa.Column("bill_to_contact_id", sa.String(40)),
        sa.Column("bill_to_crm_organization_id", sa.String(40)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("view", sa.LargeBinary, nullable=False),
    )
    # A number is never given twice, whatever the code does.
    op.create_index("invoices_number", "invoices", ["organization_id", "number"], unique=True)
    op.create_index("invoices_newest", "invoices", ["organization_id", "created_at", "id"])
    op.create_index("invoices_by_status", "invoices", ["organization_id", "status", "created_at", "id"])
    op.create_index("invoices_by_contact", "invoices", ["organization_id", "bill_to_contact_id", "created_at", "id"])
    op.create_index(
        "invoices_by_crm_organization",
        "invoices",
        ["organization_id", "bill_to_crm_organization_id", "created_at", "id"],
    )
    # The overdue job's sweep over every organization.
    op.create_index("invoices_coming_due", "invoices", ["status", "overdue_at"])

    op.create_table(
        "invoice_counters",
        sa.Column("organization_id", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("last_number", sa.Integer, nullable=False),
    )


def downgrade():
    op.drop_table("invoice_counters")
    op.drop_table("invoices")
