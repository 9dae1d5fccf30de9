"""The auth service's tables: how the code sees what migrations/ creates (tests/integration/
test_schema.py checks that the two agree)."""

import sqlalchemy as sa

from portal_common.outbox import outbox_events_table

metadata = sa.MetaData()

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # The profile (migration 0004): the issuer of the organization's invoices.
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("legal_name", sa.String(200)),
    sa.Column("email", sa.String(254)),
    sa.Column("phone", sa.String(200)),
    sa.Column("website", sa.String(200)),
    sa.Column("tax_id", sa.String(200)),
    sa.Column("street", sa.String(200)),
    sa.Column("city", sa.String(200)),
    sa.Column("state", sa.String(200)),
    sa.Column("postal_code", sa.String(200)),
    sa.Column("country", sa.String(200)),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(40), sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("last_used_at", sa.BigInteger),
    sa.Column("revoked_at", sa.BigInteger),
)

portal_users = sa.Table(
    "portal_users",
    metadata,
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
    sa.Index("portal_users_email", "organization_id", "email_key", unique=True),
)

# Which provider account belongs to which portal user: one account per provider and user.
portal_identities = sa.Table(
    "portal_identities",
    metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("provider", sa.String(20), primary_key=True),
    sa.Column("oauth_id", sa.String(200), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("portal_users.id"), nullable=False),
    sa.Index("portal_identities_user", "user_id", "provider", unique=True),
)

portal_sessions = sa.Table(
    "portal_sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("portal_users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
    # The API key whose sync-user call opened the session: revoking the key ends the session.
    sa.Column("api_key_id", sa.String(40), sa.ForeignKey("api_keys.id", name="portal_sessions_api_key_fk")),
    sa.Index("portal_sessions_expiry", "expires_at"),
    sa.Index("portal_sessions_api_key", "api_key_id"),
)

# The events of the changes, written in their transactions, until the relay hands them on
# (portal_common.outbox).
outbox_events = outbox_events_table(metadata)
