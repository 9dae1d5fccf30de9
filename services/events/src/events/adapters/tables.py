"""The events service's tables (created by migrations/; this is how the code sees them, and
tests/integration/test_schema.py checks that the two agree)."""

import sqlalchemy as sa

from portal_common.idempotency import idempotency_keys_table

metadata = sa.MetaData()

# Every event of every organization, in the order the store committed them (`position`).
events = sa.Table(
    "events",
    metadata,
    # Allocated from event_counters in the inserting transaction (not an autoincrement): see
    # adapters/store.py for why that makes positions visible in commit order.
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(40), nullable=False),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # The event JSON, exactly as the feed returns it and webhooks send it.
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("stored_at", sa.BigInteger, nullable=False),
    sa.Index("events_id", "id", unique=True),
    sa.Index("events_feed", "organization_id", "position"),
    # The feed filtered by type (`types=invoice.paid`): no scan of the organization's other events.
    sa.Index("events_feed_by_type", "organization_id", "type", "position"),
)

# One row, `events`: the last position allocated.
event_counters = sa.Table(
    "event_counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Webhook endpoints (docs/events.md). Signing secrets only sealed (AES-GCM under PORTAL_SECRETS_KEY,
# portal_common.sealed_secrets, bound to the endpoint's id).
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    # A JSON array of event types, or ["*"].
    sa.Column("enabled_events", sa.Text, nullable=False),
    sa.Column("description", sa.String(500)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disabled_reason", sa.String(20)),
    sa.Column("disabled_at", sa.BigInteger),
    sa.Column("secret", sa.LargeBinary, nullable=False),
    sa.Column("previous_secret", sa.LargeBinary),
    sa.Column("previous_secret_expires_at", sa.BigInteger),
    sa.Column("failing_since", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("webhook_endpoints_organization", "organization_id", "created_at"),
)

# One event to one endpoint. Workers claim due rows with a conditional UPDATE (claimed_by, and
# next_attempt_at moved to when the claim expires): adapters/webhook_deliveries.py.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("organization_id", sa.String(40), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.BigInteger),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("delivered_at", sa.BigInteger),
    sa.Index("webhook_deliveries_event", "endpoint_id", "event_id", unique=True),
    sa.Index("webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("webhook_deliveries_listing", "endpoint_id", "created_at"),
)

# The latest attempts of each delivery (domain/webhooks.py MAX_ATTEMPTS_KEPT).
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(40), nullable=False),
    sa.Column("attempted_at", sa.BigInteger, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("response_body", sa.Text),
    sa.Column("error", sa.String(300)),
    sa.Index("webhook_attempts_delivery", "delivery_id", "id"),
)

# The Idempotency-Key header's claims and stored answers on the webhook endpoints' POSTs
# (portal_common.idempotency).
idempotency_keys = idempotency_keys_table(metadata)
