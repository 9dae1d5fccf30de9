"""The CRM service's tables (created by migrations/; this is how the code sees them, and
tests/integration/test_schema.py checks that the two agree)."""

import sqlalchemy as sa

from portal_common.idempotency import idempotency_keys_table
from portal_common.outbox import outbox_events_table

metadata = sa.MetaData()

crm_organizations = sa.Table(
    "crm_organizations",
    metadata,
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
    sa.Index("crm_organizations_name", "organization_id", "name_key", unique=True),
    sa.Index("crm_organizations_website", "organization_id", "website_key"),
    sa.Index("crm_organizations_newest", "organization_id", "created_at", "id"),
)

contacts = sa.Table(
    "contacts",
    metadata,
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
    # The read model of this row: what GET and list pages return (a serialized portal.crm.v1.Contact),
    # rebuilt from the columns above by the function the server gives the repository.
    sa.Column("view", sa.LargeBinary, nullable=False),
    # contact or organization: what the contact's portal user may see.
    sa.Column("portal_access", sa.String(20), nullable=False, server_default="contact"),
    sa.Index("contacts_email", "organization_id", "email_key", unique=True),
    sa.Index("contacts_newest", "organization_id", "status", "created_at", "id"),
    sa.Index("contacts_by_subtype", "organization_id", "status", "subtype", "created_at", "id"),
    sa.Index("contacts_by_crm_organization", "organization_id", "crm_organization_id", "status", "created_at", "id"),
)

# How many contacts each organization has per (status, subtype, source), kept in the same
# transaction as the contacts, so list totals stay cheap at millions of contacts.
contact_counts = sa.Table(
    "contact_counts",
    metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(20), primary_key=True),
    sa.Column("subtype", sa.String(20), primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# The Idempotency-Key header's claims and stored answers (portal_common.idempotency).
idempotency_keys = idempotency_keys_table(metadata)

# The events of the changes, written in their transactions, until the relay hands them on
# (portal_common.outbox).
outbox_events = outbox_events_table(metadata)
