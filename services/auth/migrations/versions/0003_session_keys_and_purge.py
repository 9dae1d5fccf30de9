"""sessions remember the API key that opened them; an index for purging expired sessions

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # Sessions opened before this revision have no key: they stay valid until they expire.
    with op.batch_alter_table("portal_sessions") as table:
        table.add_column(
            sa.Column("api_key_id", sa.String(40), sa.ForeignKey("api_keys.id", name="portal_sessions_api_key_fk"))
        )
    op.create_index("portal_sessions_expiry", "portal_sessions", ["expires_at"])
    op.create_index("portal_sessions_api_key", "portal_sessions", ["api_key_id"])


def downgrade():
    op.drop_index("portal_sessions_api_key", "portal_sessions")
    op.drop_index("portal_sessions_expiry", "portal_sessions")
    with op.batch_alter_table("portal_sessions") as table:
        table.drop_column("api_key_id")
