"""payment connections and received payment events (issue 11; filled by the webhook work)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "payment_connections",
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
    op.create_index("payment_connections_token", "payment_connections", ["token_hash"], unique=True)
    op.create_index("payment_connections_newest", "payment_connections", ["organization_id", "created_at", "id"])
    op.create_table(
        "payment_events",
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
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )
    op.create_index("payment_events_once", "payment_events", ["connection_id", "provider_event_id"], unique=True)
    op.create_index("payment_events_newest", "payment_events", ["connection_id", "received_at", "id"])
    op.create_index("payment_events_by_status", "payment_events", ["connection_id", "status", "received_at", "id"])


def downgrade():
    op.drop_table("payment_events")
    op.drop_table("payment_connections")
