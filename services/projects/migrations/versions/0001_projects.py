"""projects, their list counters and the project code counters

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
        "projects",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("project_code", sa.String(20), nullable=False),
        sa.Column("subtype", sa.String(30), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_date", sa.BigInteger),
        sa.Column("target_end_date", sa.BigInteger),
        sa.Column("budget_amount", sa.Double),
        sa.Column("budget_currency", sa.String(3)),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("client_org_id", sa.String(40)),
        sa.Column("detailed_description", sa.Text),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("view", sa.LargeBinary, nullable=False),
    )
    op.create_index("projects_code", "projects", ["organization_id", "project_code"], unique=True)
    op.create_index("projects_newest", "projects", ["organization_id", "created_at", "id"])
    op.create_index("projects_by_status", "projects", ["organization_id", "status", "created_at", "id"])
    op.create_index("projects_by_subtype", "projects", ["organization_id", "subtype", "created_at", "id"])
    op.create_index("projects_by_priority", "projects", ["organization_id", "priority", "created_at", "id"])
    op.create_index("projects_by_client", "projects", ["organization_id", "client_org_id", "created_at", "id"])

    op.create_table(
        "project_counts",
        sa.Column("organization_id", sa.String(40), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("subtype", sa.String(30), primary_key=True),
        sa.Column("priority", sa.String(20), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "project_code_counters",
        sa.Column("organization_id", sa.String(40), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.BigInteger, nullable=False),
    )


def downgrade():
    op.drop_table("project_code_counters")
    op.drop_table("project_counts")
    op.drop_table("projects")
