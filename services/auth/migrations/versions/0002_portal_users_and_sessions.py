"""portal users, their OAuth identities and sessions

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
        "portal_users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organization_id", sa.String(40), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("oauth_provider", sa.String(20), nullable=False),
        sa.Column("oauth_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_login", sa.BigInteger, nullable=False),
        sa.Column("crm_contact_id", sa.String(40)),
        sa.Column("crm_organization_id", sa.String(40)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("portal_users_email", "portal_users", ["organization_id", "email_key"], unique=True)
    op.create_table(
        "portal_identities",
        sa.Column("organization_id", sa.String(40), primary_key=True),
        sa.Column("provider", sa.String(20), primary_key=True),
        sa.Column("oauth_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("portal_users.id"), nullable=False),
    )
    op.create_index("portal_identities_user", "portal_identities", ["user_id", "provider"], unique=True)
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("portal_users.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger),
    )


def downgrade():
    op.drop_table("portal_sessions")
    op.drop_table("portal_identities")
    op.drop_table("portal_users")
