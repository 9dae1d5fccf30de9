"""The invoicing service's tables as the code sees them; migrations/ creates them, and
tests/integration/test_schema.py checks that the two agree."""

import sqlalchemy as sa

from portal_common.idempotency import idempotency_keys_table
from portal_common.outbox import outbox_events_table

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

# Payment webhooks (adapters/payments_repository.py). A connection's token is stored only as its
# SHA-256; its signing secrets only encrypted (AES-GCM, portal_common.sealed_secrets), and erased
# when it is revoked.
payment_connections = sa.Table(
    "payment_connections",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("token_hint", sa.String(8), nullable=False),
    sa.Column("secret", sa.LargeBinary),
    sa.Column("previous_secret", sa.LargeBinary),
    sa.Column("previous_secret_expires_at", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("rotated_at", sa.BigInteger),
    sa.Column("revoked_at", sa.BigInteger),
)
sa.Index("payment_connections_token", payment_connections.c.token_hash, unique=True)
sa.Index(
    "payment_connections_newest",
    payment_connections.c.organization_id,
    payment_connections.c.created_at,
    payment_connections.c.id,
)

# Every verified event a connection received, stored before it is applied; a provider's event id
# is stored once per connection, so a redelivery changes nothing.
payment_events = sa.Table(
    "payment_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("connection_id", sa.String(40), nullable=False),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("provider_event_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.Column("invoice_id", sa.String(40)),
    sa.Column("amount_cents", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("transaction_ref", sa.String(255)),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    # The body exactly as received (at most domain.payments.MAX_BODY_BYTES).
    sa.Column("payload", sa.LargeBinary, nullable=False),
)
sa.Index("payment_events_once", payment_events.c.connection_id, payment_events.c.provider_event_id, unique=True)
sa.Index("payment_events_newest", payment_events.c.connection_id, payment_events.c.received_at, payment_events.c.id)
sa.Index(
    "payment_events_by_status",
    payment_events.c.connection_id,
    payment_events.c.status,
    payment_events.c.received_at,
    payment_events.c.id,
)

# The Idempotency-Key header's claims and stored answers (portal_common.idempotency).
idempotency_keys = idempotency_keys_table(metadata)

# The outbox of invoice emails (adapters/outbox.py): each row is written in the transaction that
# sends the invoice or asks for a reminder, and delivered by a worker (service_layer/email.py).
outbound_emails = sa.Table(
    "outbound_emails",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("invoice_id", sa.String(40), sa.ForeignKey("invoices.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("message_id", sa.String(300), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("sent_at", sa.BigInteger),
    # When a worker may next take a queued email; while a worker holds it, when its hold expires.
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    # The worker holding it (claimed, being delivered), if any.
    sa.Column("claimed_by", sa.String(200)),
)
sa.Index("outbound_emails_of_invoice", outbound_emails.c.invoice_id, outbound_emails.c.created_at)
sa.Index("outbound_emails_due", outbound_emails.c.status, outbound_emails.c.next_attempt_at)

# The events of the changes, written in their transactions, until the relay hands them on
# (portal_common.outbox).
outbox_events = outbox_events_table(metadata)
