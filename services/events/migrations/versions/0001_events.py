"""the event store: events in the order they were stored, and the counter of their positions

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("stored_at", sa.BigInteger, nullable=False),
    )
    op.create_index("events_id", "events", ["id"], unique=True)
    op.create_index("events_feed", "events", ["organization_id", "position"])
    op.create_index("events_feed_by_type", "events", ["organization_id", "type", "position"])
    counters = op.create_table(
        "event_counters",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "events", "value": 0}])


def downgrade():
    op.drop_table("event_counters")
    op.drop_table("events")
