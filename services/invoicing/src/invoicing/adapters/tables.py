"""The invoicing service's tables as the code sees them; migrations/ creates them, and
tests/integration/test_schema.py checks that the two agree."""

import sqlalchemy as sa

from portal_common.idempotency import idempotency_keys_table

metadata = sa.MetaData()

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("number", sa.String(40), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    # As stored: sent or awaiting_employer_payment stay so until the overdue job persists
    # "overdue"; reads derive it from overdue_at before that.
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("issue_date", sa.BigInteger, nullable=False),
    sa.Column("overdue_at", sa.BigInteger, nullable=False),
    sa.Column("bill_to_contact_id", sa.String(40)),
    sa.Column("bill_to_crm_organization_id", sa.String(40)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # The rest of the record: a JSON document whose format repository.py owns (its "version").
    sa.Column("record", sa.JSON, nullable=False),
    # A derived cache for the hot reads (queries.py): the invoice as the API serializes it,
    # rebuilt from the record on every write. Never read back as the record.
    sa.Column("view", sa.LargeBinary, nullable=False),
)
# A number is never given twice, whatever the code does.
sa.Index("invoices_number", invoices.c.organization_id, invoices.c.number, unique=True)
sa.Index("invoices_newest", invoices.c.organization_id, invoices.c.created_at, invoices.c.id)
sa.Index("invoices_by_status", invoices.c.organization_id, invoices.c.status, invoices.c.created_at, invoices.c.id)
sa.Index(
    "invoices_by_contact",
    invoices.c.organization_id,
    invoices.c.bill_to_contact_id,
    invoices.c.created_at,
    invoices.c.id,
)
sa.Index(
    "invoices_by_crm_organization",
    invoices.c.organization_id,
    invoices.c.bill_to_crm_organization_id,
    invoices.c.created_at,
    invoices.c.id,
)
# The overdue job's sweep over every organization.
sa.Index("invoices_coming_due", invoices.c.status, invoices.c.overdue_at)
# The status=overdue filter's "not stored as overdue yet" part, a range per unpaid status.
sa.Index("invoices_past_due", invoices.c.organization_id, invoices.c.status, invoices.c.overdue_at)

# How many invoices each organization has per stored status and type, kept in the same
# transaction as the invoices, so that list totals do not count 100k rows per request.
invoice_counts = sa.Table(
    "invoice_counts",
    metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(30), primary_key=True),
    sa.Column("type", sa.String(20), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# The last number given out per organization and month of issue. Incremented in the transaction
# that inserts the invoice, so numbers are never duplicated and never skipped.
invoice_counters = sa.Table(
    "invoice_counters",
    metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("last_number", sa.Integer, nullable=False),
)

# The Idempotency-Key header's claims and stored answers (portal_common.idempotency).
idempotency_keys = idempotency_keys_table(metadata)
