"""The projects service's tables (created by migrations/; this is how the code sees them)."""

import sqlalchemy as sa

from portal_common.idempotency import idempotency_keys_table
from portal_common.outbox import outbox_events_table

metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("project_code", sa.String(20), nullable=False),
    sa.Column("subtype", sa.String(30), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_date", sa.BigInteger),
    sa.Column("target_end_date", sa.BigInteger),
    # The budget, exact: a whole number of the currency's minor unit (cents), up to 2^53-1.
    sa.Column("budget_minor_units", sa.BigInteger),
    sa.Column("budget_currency", sa.String(3)),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("progress", sa.Integer, nullable=False),
    sa.Column("client_org_id", sa.String(40)),
    sa.Column("detailed_description", sa.Text),
    # The free-form keys of customProperties as a JSON object (Project.free_properties). The
    # default filled the rows that migration 0003 found.
    sa.Column("free_properties", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_by", sa.String(40), nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # The read model: this row's project as the API returns it, serialized (see projects.queries).
    sa.Column("view", sa.LargeBinary, nullable=False),
    sa.Index("projects_code", "organization_id", "project_code", unique=True),
    # Lists, newest first, unfiltered and by each filter.
    sa.Index("projects_newest", "organization_id", "created_at", "id"),
    sa.Index("projects_by_status", "organization_id", "status", "created_at", "id"),
    sa.Index("projects_by_subtype", "organization_id", "subtype", "created_at", "id"),
    sa.Index("projects_by_priority", "organization_id", "priority", "created_at", "id"),
    sa.Index("projects_by_client", "organization_id", "client_org_id", "created_at", "id"),
)

# How many projects each organization has per (status, subtype, priority), kept in the same
# transaction as the projects, so that list totals stay cheap at any number of projects.
project_counts = sa.Table(
    "project_counts",
    metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(20), primary_key=True),
    sa.Column("subtype", sa.String(30), primary_key=True),
    sa.Column("priority", sa.String(20), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# The last project number given out per organization and calendar year. Taken in the creating
# transaction and never decremented, so that codes are neither duplicated nor reused.
project_code_counters = sa.Table(
    "project_code_counters",
    metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

# The Idempotency-Key header's claims and stored answers (portal_common.idempotency).
idempotency_keys = idempotency_keys_table(metadata)

# The events of the changes, written in their transactions, until the relay hands them on
# (portal_common.outbox).
outbox_events = outbox_events_table(metadata)
