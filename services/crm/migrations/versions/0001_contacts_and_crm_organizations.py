"""contacts, CRM organizations and contact counters

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
        "crm_organizations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("website", sa.String(200)),
        sa.Column("website_key", sa.String(200)),
        sa.Column("industry", sa.String(200)),
        sa.Column("street", sa.String(200)),
        sa.Column("city", sa.String(200)),
        sa.Column("state", sa.String(200)),
        sa.Column("postal_code", sa.String(200)),
        sa.Column("country", sa.String(200)),
        sa.Column("tax_id", sa.String(200)),
        sa.Column("billing_email", sa.String(254)),
        sa.Column("phone", sa.String(200)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("crm_organizations_name", "crm_organizations", ["organization_id", "name_key"], unique=True)
    op.create_index("crm_organizations_website", "crm_organizations", ["organization_id", "website_key"])
    op.create_index("crm_organizations_newest", "crm_organizations", ["organization_id", "created_at", "id"])

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(200)),
        sa.Column("company", sa.String(200)),
        sa.Column("job_title", sa.String(200)),
        sa.Column("subtype", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("source_ref", sa.String(200)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        sa.Column("crm_organization_id", sa.String(40)),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("view", sa.LargeBinary, nullable=False),
    )
    op.create_index("contacts_email", "contacts", ["organization_id", "email_key"], unique=True)
    op.create_index("contacts_newest", "contacts", ["organization_id", "status", "created_at", "id"])
    op.create_index("contacts_by_subtype", "contacts", ["organization_id", "status", "subtype", "created_at", "id"])
    op.create_index(
        "contacts_by_crm_organization",
        "contacts",
        ["organization_id", "crm_organization_id", "status", "created_at", "id"],
    )

    op.create_table(
        "contact_counts",
        sa.Column("organization_id", sa.String(40), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("subtype", sa.String(20), primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade():
    op.drop_table("contact_counts")
    op.drop_table("contacts")
    op.drop_table("crm_organizations")
