"""The invoicing service's tables (created by migrations/; this is how the code sees them)."""
import sqlalchemy as sa

metadata = sa.MetaData()

invoices = sa.Table(
    "invoices", metadata,
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
    # The serialized portal.invoicing.v1.Invoice: the whole record (see adapters/views.py).
    sa.Column("view", sa.LargeBinary, nullable=False),
)

# How many invoices each organization has per stored status and type, kept in the same
# transaction as the invoices, so that list totals do not count 100k rows per request.
invoice_counts = sa.Table(
    "invoice_counts", metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("status", sa.String(30), primary_key=True),
    sa.Column("type", sa.String(20), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# The last number given out per organization and month of issue. Incremented in the transaction
# that inserts the invoice, so numbers are never duplicated and never skipped.
invoice_counters = sa.Table(
    "invoice_counters", metadata,
    sa.Column("organization_id", sa.String(40), primary_key=True),
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("last_number", sa.Integer, nullable=False),
)
