"""the organization profile (issue 11): the issuer of the organization's invoices

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TEXT = ("legal_name", "phone", "website", "tax_id", "street", "city", "state", "postal_code", "country")


def upgrade():
    with op.batch_alter_table("organizations") as table:
        table.add_column(sa.Column("updated_at", sa.BigInteger))
        table.add_column(sa.Column("email", sa.String(254)))
        for name in _TEXT:
            table.add_column(sa.Column(name, sa.String(200)))
    # An organization's profile was last changed when it was created.
    op.execute("UPDATE organizations SET updated_at = created_at")
    with op.batch_alter_table("organizations") as table:
        table.alter_column("updated_at", existing_type=sa.BigInteger, nullable=False)


def downgrade():
    with op.batch_alter_table("organizations") as table:
        for name in ("updated_at", "email", *_TEXT):
            table.drop_column(name)
