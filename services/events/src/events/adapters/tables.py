"""The events service's tables (created by migrations/; this is how the code sees them, and
tests/integration/test_schema.py checks that the two agree)."""

import sqlalchemy as sa

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
)

# One row, `events`: the last position allocated.
event_counters = sa.Table(
    "event_counters",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
