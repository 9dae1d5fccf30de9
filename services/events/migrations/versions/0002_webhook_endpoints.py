"""webhook endpoints, their deliveries and the attempts of each; idempotency keys of their POSTs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from portal_common.idempotency import create_table_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
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
    )
    op.create_index("webhook_endpoints_organization", "webhook_endpoints", ["organization_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
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
    )
    op.create_index("webhook_deliveries_event", "webhook_deliveries", ["endpoint_id", "event_id"], unique=True)
    op.create_index("webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("webhook_deliveries_listing", "webhook_deliveries", ["endpoint_id", "created_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("attempted_at", sa.BigInteger, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("response_body", sa.Text),
        sa.Column("error", sa.String(300)),
    )
    op.create_index("webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"])
    create_table_v1(op)


def downgrade():
    op.drop_table("idempotency_keys")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
